import Foundation
import NIOConcurrencyHelpers

/// One line of the access log, captured on the event loop and formatted later off it.
struct AccessLogEntry: Sendable {
    var clientAddress: String
    /// Seconds since the epoch when the request arrived.
    var time: Int
    var method: String
    var uri: String
    var version: String
    var status: Int
    var bytesSent: Int
    var referer: String?
    var userAgent: String?
    var upstream: String?
    var durationNanoseconds: Int64
}

/// Writes the access log in Apache's Combined Log Format. Event loops only append to an
/// in-memory batch under a lock; a serial queue formats and writes the batch a moment later,
/// so log writing never blocks a loop, and `flush()` on stop writes whatever is left.
public final class AccessLog: Sendable {
    private let path: String
    private let queue = DispatchQueue(label: "portal.edge.access-log")
    private let state = NIOLockedValueBox(State())

    private struct State {
        var pending: [AccessLogEntry] = []
        var flushScheduled = false
        var descriptor: Int32 = -1
    }

    /// Opens (creating if needed) the log file at `path` for appending.
    public init(path: String) throws {
        self.path = path
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else {
            throw AccessLogError(description: "cannot open access log \(path): \(String(cString: strerror(errno)))")
        }
        state.withLockedValue { $0.descriptor = descriptor }
    }

    func record(_ entry: AccessLogEntry) {
        let schedule = state.withLockedValue { state -> Bool in
            state.pending.append(entry)
            if state.flushScheduled { return false }
            state.flushScheduled = true
            return true
        }
        if schedule {
            queue.asyncAfter(deadline: .now() + .milliseconds(100)) { [self] in self.writePending() }
        }
    }

    /// Writes every pending line now (called on graceful stop).
    public func flush() {
        queue.sync { writePending() }
    }

    /// Flushes and closes the file.
    public func close() {
        flush()
        state.withLockedValue { state in
            if state.descriptor >= 0 { Foundation.close(state.descriptor) }
            state.descriptor = -1
        }
    }

    private func writePending() {
        let (entries, descriptor) = state.withLockedValue { state in
            let entries = state.pending
            state.pending.removeAll(keepingCapacity: true)
            state.flushScheduled = false
            return (entries, state.descriptor)
        }
        guard !entries.isEmpty, descriptor >= 0 else { return }
        var text = ""
        text.reserveCapacity(entries.count * 160)
        for entry in entries {
            text += CombinedLogFormat.line(for: entry)
            text += "\n"
        }
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return Foundation.write(descriptor, base + offset, buffer.count - offset)
            }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { break }
            offset += written
        }
        bytes.removeAll()
    }
}

struct AccessLogError: Error, CustomStringConvertible {
    let description: String
}

/// `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`, as Apache's `combined` format.
enum CombinedLogFormat {
    static func line(for entry: AccessLogEntry) -> String {
        let bytes = entry.bytesSent == 0 ? "-" : String(entry.bytesSent)
        let request = "\(entry.method) \(entry.uri) \(entry.version)"
        return "\(entry.clientAddress) - - [\(timestamp(entry.time))] \"\(escape(request))\" \(entry.status) \(bytes) "
            + "\"\(escape(entry.referer ?? "-"))\" \"\(escape(entry.userAgent ?? "-"))\""
    }

    /// `[10/Oct/2000:13:55:36 -0700]` in local time.
    static func timestamp(_ seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        localtime_r(&time, &parts)
        var buffer = [Int8](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%d/%b/%Y:%H:%M:%S %z", &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Escapes quotes, backslashes and control bytes the way Apache does (`\"`, `\\`, `\xhh`).
    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): result += "\\\""
            case UInt8(ascii: "\\"): result += "\\\\"
            case 0..<0x20, 0x7F...:
                result += "\\x" + String(byte, radix: 16, uppercase: false).leftPadded(to: 2)
            default: result.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return result
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
