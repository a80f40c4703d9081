import NIOHTTP1
import PortalCore

/// Checks a request head before anything is forwarded: the limits (Apache's `LimitRequest*`)
/// and the rules that keep a reverse proxy from being confused or smuggled through.
enum RequestValidator {
    enum Verdict: Equatable {
        case accept
        /// Answer with this status and close the connection.
        case reject(HTTPResponseStatus, String)
    }

    static func validate(_ head: HTTPRequestHead, settings: EdgeSettings) -> Verdict {
        if head.uri.utf8.count > settings.maxRequestLineBytes {
            return .reject(.uriTooLong, "request target longer than \(settings.maxRequestLineBytes) bytes")
        }
        if head.headers.count > settings.maxHeaderCount {
            return .reject(.requestHeaderFieldsTooLarge, "more than \(settings.maxHeaderCount) header fields")
        }
        for header in head.headers where header.name.utf8.count + header.value.utf8.count + 2 > settings.maxHeaderBytes {
            return .reject(.requestHeaderFieldsTooLarge, "header field \(header.name) longer than \(settings.maxHeaderBytes) bytes")
        }
        switch head.method {
        case .CONNECT, .TRACE:
            return .reject(.methodNotAllowed, "\(head.method.rawValue) is not served by a reverse proxy")
        default:
            break
        }
        if !head.uri.hasPrefix("/") && !(head.method == .OPTIONS && head.uri == "*") {
            return .reject(.badRequest, "request target must be a path (absolute-form is for forward proxies)")
        }
        let hosts = head.headers[canonicalForm: "host"]
        if head.headers["host"].count > 1 || hosts.count > 1 {
            return .reject(.badRequest, "more than one Host header")
        }
        if head.version.minor >= 1 && hosts.isEmpty {
            return .reject(.badRequest, "HTTP/1.1 request without Host")
        }
        if let host = hosts.first, HostHeader.hostPart(String(host)) == nil {
            return .reject(.badRequest, "malformed Host header")
        }
        let lengths = head.headers["content-length"]
        let encodings = head.headers[canonicalForm: "transfer-encoding"]
        if !lengths.isEmpty && !encodings.isEmpty {
            return .reject(.badRequest, "both Content-Length and Transfer-Encoding")
        }
        if lengths.count > 1 {
            return .reject(.badRequest, "more than one Content-Length")
        }
        if let length = lengths.first, length.isEmpty || !length.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            return .reject(.badRequest, "malformed Content-Length")
        }
        if !encodings.isEmpty && !(encodings.count == 1 && encodings[0].lowercased() == "chunked") {
            return .reject(.badRequest, "unsupported Transfer-Encoding")
        }
        return .accept
    }

    /// The declared body length, when there is one.
    static func contentLength(_ head: HTTPRequestHead) -> Int? {
        head.headers.first(name: "content-length").flatMap { Int($0) }
    }

    /// True when a body follows the head.
    static func hasBody(_ head: HTTPRequestHead) -> Bool {
        if head.headers.contains(name: "transfer-encoding") { return true }
        return (contentLength(head) ?? 0) > 0
    }
}
