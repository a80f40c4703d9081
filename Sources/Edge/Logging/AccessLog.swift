import Foundation
import Logging
import NIOConcurrencyHelpers
import PortalCore

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
    var site: String? = nil
    /// From sending the request upstream to the last byte of the upstream's answer (nginx's
    /// `$upstream_response_time`).
    var upstreamNanoseconds: Int64? = nil
    /// From sending the request upstream to its answer's head (nginx's `$upstream_header_time`).
    var upstreamHeaderNanoseconds: Int64? = nil
    /// `HIT`, `MISS` or `BYPASS` on caching routes (nginx's `$upstream_cache_status`).
    var cache: String? = nil
    /// The user named in HTTP basic auth (Apache's `%u`).
    var user: String? = nil
    /// The request line as received, for a request that was refused before it could be parsed
    /// (Apache logs `%r` as sent); empty when nothing of it arrived.
    var rawRequestLine: String? = nil
}

/// Access log formats: Apache's `combined`, or JSON lines with timings.
enum AccessLogFormat: Sendable {
    case combined
    case json

    init(_ name: String) {
        self = name == "json" ? .json : .combined
    }
}

extension LogRotation {
    init(_ edge: EdgeSettings) {
        self.init(maxBytes: edge.logRotateBytes, daily: edge.logRotateDaily, keepDays: edge.logKeepDays)
    }
}

/// Writes the access log. Event loops only append to an in-memory batch under a lock; a serial
/// queue formats and writes the batch a moment later, so log writing never blocks a loop, and
/// `flush()` on stop writes whatever is left.
public final class AccessLog: Sendable {
    let path: String
    private let format: AccessLogFormat
    private let queue = DispatchQueue(label: "portal.edge.access-log")
    private let pending = NIOLockedValueBox(Pending())
    /// Touched only on `queue`.
    private let file: QueueConfined<LogFile>

    private struct Pending {
        var entries: [AccessLogEntry] = []
        var flushScheduled = false
    }

    /// Opens (creating if needed) the log file at `path` for appending.
    init(path: String, format: AccessLogFormat = .combined, rotation: LogRotation = .none) throws {
        self.path = path
        self.format = format
        let file = try LogFile(path: path, rotation: rotation)
        let logger = Logger(label: "portal.edge.access-log")
        file.onWriteFailure = { logger.error("\($0)") }
        self.file = QueueConfined(file)
    }

    func record(_ entry: AccessLogEntry) {
        let schedule = pending.withLockedValue { state -> Bool in
            state.entries.append(entry)
            if state.flushScheduled { return false }
            state.flushScheduled = true
            return true
        }
        if schedule {
            queue.asyncAfter(deadline: .now() + .milliseconds(100)) { [self] in self.writePending() }
        }
    }

    /// Writes every pending line now (called on graceful stop and before a reload swaps logs).
    public func flush() {
        queue.sync { writePending() }
    }

    /// Reopens the file (SIGUSR1, after an outside tool moved it).
    public func reopen() {
        queue.sync {
            writePending()
            file.value.reopen()
        }
    }

    public func close() {
        flush()
    }

    private func writePending() {
        let entries = pending.withLockedValue { state in
            let entries = state.entries
            state.entries.removeAll(keepingCapacity: true)
            state.flushScheduled = false
            return entries
        }
        guard !entries.isEmpty else { return }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(entries.count * 200)
        // Lines of one batch mostly share their second: format each second once.
        var stampSecond = Int.min
        var stamp = ""
        for entry in entries {
            switch format {
            case .combined:
                if entry.time != stampSecond {
                    stampSecond = entry.time
                    stamp = CombinedLogFormat.timestamp(entry.time)
                }
                CombinedLogFormat.append(entry, timestamp: stamp, to: &bytes)
            case .json: bytes += JSONLogFormat.line(for: entry).utf8
            }
            bytes.append(UInt8(ascii: "\n"))
        }
        file.value.write(bytes: bytes)
    }
}

/// A value only ever used on one serial `DispatchQueue`.
///
/// `@unchecked Sendable`: the owner (`AccessLog`, `ErrorLogFile`) reads `value` only inside
/// blocks submitted to its own serial queue, so no two threads touch it at once.
final class QueueConfined<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) {
        self.value = value
    }
}

/// `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`, as Apache's `combined` format.
enum CombinedLogFormat {
    static func line(for entry: AccessLogEntry, timestamp stamp: String? = nil) -> String {
        var bytes: [UInt8] = []
        append(entry, timestamp: stamp ?? timestamp(entry.time), to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the entry's line (without its newline) byte by byte: this runs for every request.
    static func append(_ entry: AccessLogEntry, timestamp stamp: String, to bytes: inout [UInt8]) {
        bytes += entry.clientAddress.utf8
        bytes += " - ".utf8
        if let user = entry.user, !user.isEmpty { appendEscaped(user, to: &bytes) } else { bytes.append(UInt8(ascii: "-")) }
        bytes += " [".utf8
        bytes += stamp.utf8
        bytes += "] \"".utf8
        if let raw = entry.rawRequestLine {
            if raw.isEmpty { bytes.append(UInt8(ascii: "-")) } else { appendEscaped(raw, to: &bytes) }
        } else {
            appendEscaped(entry.method, to: &bytes)
            bytes.append(UInt8(ascii: " "))
            appendEscaped(entry.uri, to: &bytes)
            bytes.append(UInt8(ascii: " "))
            appendEscaped(entry.version, to: &bytes)
        }
        bytes += "\" ".utf8
        bytes += String(entry.status).utf8
        bytes.append(UInt8(ascii: " "))
        if entry.bytesSent == 0 { bytes.append(UInt8(ascii: "-")) } else { bytes += String(entry.bytesSent).utf8 }
        bytes += " \"".utf8
        appendEscaped(entry.referer ?? "-", to: &bytes)
        bytes += "\" \"".utf8
        appendEscaped(entry.userAgent ?? "-", to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends `text` with quotes, backslashes and control bytes escaped as Apache does (`\"`, `\\`,
    /// `\t`, `\xhh`).
    private static func appendEscaped(_ text: String, to bytes: inout [UInt8]) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes += "\\\"".utf8
            case UInt8(ascii: "\\"): bytes += "\\\\".utf8
            case 0x08: bytes += "\\b".utf8
            case 0x09: bytes += "\\t".utf8
            case 0x0A: bytes += "\\n".utf8
            case 0x0B: bytes += "\\v".utf8
            case 0x0D: bytes += "\\r".utf8
            case 0..<0x20, 0x7F...:
                bytes += "\\x".utf8
                bytes.append(hexDigit(byte >> 4))
                bytes.append(hexDigit(byte & 0x0F))
            default: bytes.append(byte)
            }
        }
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    /// `[10/Oct/2000:13:55:36 -0700]` in local time.
    static func timestamp(_ seconds: Int) -> String {
        TimeFormat.format(seconds, "%d/%b/%Y:%H:%M:%S %z", utc: false)
    }
}

/// One JSON object per line: the combined fields plus site, upstream address and timings.
enum JSONLogFormat {
    static func line(for entry: AccessLogEntry) -> String {
        // A request refused before it was parsed has only its raw line: its parts are given
        // when it has the shape `method target version`, null otherwise, never made up.
        var method: String? = entry.method, uri: String? = entry.uri, version: String? = entry.version
        if let raw = entry.rawRequestLine {
            let parts = raw.split(separator: " ", omittingEmptySubsequences: false)
            if parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) {
                (method, uri, version) = (String(parts[0]), String(parts[1]), String(parts[2]))
            } else {
                (method, uri, version) = (nil, nil, nil)
            }
        }
        var fields: [String] = [
            "\"time\":\"\(iso8601(entry.time))\"",
            "\"client\":\(quote(entry.clientAddress))",
            "\"method\":\(method.map(quote) ?? "null")",
            "\"uri\":\(uri.map(quote) ?? "null")",
            "\"protocol\":\(version.map(quote) ?? "null")",
            "\"status\":\(entry.status)",
            "\"bytes\":\(entry.bytesSent)",
            "\"referer\":\(entry.referer.map(quote) ?? "null")",
            "\"user_agent\":\(entry.userAgent.map(quote) ?? "null")",
            "\"site\":\(entry.site.map(quote) ?? "null")",
            "\"upstream\":\(entry.upstream.map(quote) ?? "null")",
        ]
        fields.append("\"upstream_ms\":\(entry.upstreamNanoseconds.map { milliseconds($0) } ?? "null")")
        fields.append("\"upstream_header_ms\":\(entry.upstreamHeaderNanoseconds.map { milliseconds($0) } ?? "null")")
        fields.append("\"total_ms\":\(milliseconds(entry.durationNanoseconds))")
        fields.append("\"cache\":\(entry.cache.map(quote) ?? "null")")
        fields.append("\"user\":\(entry.user.map(quote) ?? "null")")
        if let raw = entry.rawRequestLine { fields.append("\"request\":\(quote(raw))") }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func milliseconds(_ nanoseconds: Int64) -> String {
        String(format: "%.3f", Double(nanoseconds) / 1_000_000)
    }

    static func iso8601(_ seconds: Int) -> String {
        TimeFormat.format(seconds, "%Y-%m-%dT%H:%M:%SZ", utc: true)
    }

    /// A JSON string literal.
    static func quote(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                result += "\\u" + String(scalar.value, radix: 16).leftPadded(to: 4)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
