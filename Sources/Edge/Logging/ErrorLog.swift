import Foundation
public import Logging
import NIOConcurrencyHelpers
public import PortalCore

/// The edge's error log file (Apache's `ErrorLog`): warnings and errors, one line each, written
/// by a background queue, rotated like the access log and reopened on SIGUSR1.
public final class ErrorLogFile: Sendable {
    private let queue = DispatchQueue(label: "portal.edge.error-log")
    /// The open file; replaced when a reload names another path.
    private let file: QueueConfined<Slot>
    private let openPath: NIOLockedValueBox<String>

    /// Holds the current file; touched only on `queue`.
    private final class Slot {
        var log: LogFile
        init(_ log: LogFile) { self.log = log }
    }

    /// The error log of a data folder when `edge.error_log` is not set.
    public static func defaultPath(dataDirectory: DataDirectory) -> String {
        (dataDirectory.logsDirectory as NSString).appendingPathComponent("error.log")
    }

    /// Opens `path` for appending with the edge's rotation settings.
    public init(path: String, settings: EdgeSettingsRotation) throws {
        file = QueueConfined(Slot(try Self.open(path, settings: settings)))
        openPath = NIOLockedValueBox(path)
    }

    /// The file being written.
    public var path: String { openPath.withLockedValue { $0 } }

    /// Writes to `path` from now on (a reload changed `edge.error_log`); throws, keeping the
    /// current file, when the new one cannot be opened.
    public func move(to path: String, settings: EdgeSettingsRotation) throws {
        let opened = try Self.open(path, settings: settings)
        queue.sync { file.value.log = opened }
        openPath.withLockedValue { $0 = path }
    }

    /// The error log cannot report its own failures: they go to standard error.
    private static func open(_ path: String, settings: EdgeSettingsRotation) throws -> LogFile {
        let file = try LogFile(path: path, rotation: LogRotation(settings))
        file.onWriteFailure = { FileHandle.standardError.write(Data("portal edge: \($0)\n".utf8)) }
        return file
    }

    func write(_ line: String) {
        queue.async { [file] in file.value.log.write(line) }
    }

    public func reopen() {
        queue.sync { file.value.log.reopen() }
    }

    public func flush() {
        queue.sync {}
    }
}

/// Rotation settings for a log file, from the edge configuration.
public struct EdgeSettingsRotation: Sendable {
    public var maxBytes: Int
    public var daily: Bool
    public var keepDays: Int

    public init(maxBytes: Int, daily: Bool, keepDays: Int) {
        self.maxBytes = maxBytes
        self.daily = daily
        self.keepDays = keepDays
    }

    public init(_ edge: EdgeSettings) {
        self.init(maxBytes: edge.logRotateBytes, daily: edge.logRotateDaily, keepDays: edge.logKeepDays)
    }
}

extension LogRotation {
    init(_ settings: EdgeSettingsRotation) {
        self.init(maxBytes: settings.maxBytes, daily: settings.daily, keepDays: settings.keepDays)
    }
}

/// A swift-log handler that writes warning-and-above lines to an `ErrorLogFile`, in Apache's
/// error log shape: `[time] [level] [pid N] label: message key=value`.
public struct ErrorLogHandler: LogHandler {
    private let file: ErrorLogFile
    private let label: String
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .warning

    public init(label: String, file: ErrorLogFile) {
        self.label = label
        self.file = file
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let details = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let text = "[\(Self.timestamp())] [\(event.level)] [pid \(getpid())] \(label): \(event.message)"
            + (details.isEmpty ? "" : " \(details)")
        // One entry, one line, for line-based tools (fail2ban, logwatch): a multi-line message
        // (the list of a refused configuration's errors) is joined with " | ".
        let line = (text.contains("\n") ? text.split(whereSeparator: \.isNewline).joined(separator: " | ") : text) + "\n"
        file.write(line)
    }

    static func timestamp() -> String {
        TimeFormat.format(Int(Date().timeIntervalSince1970), "%a %b %d %H:%M:%S %Y", utc: false)
    }
}
