import NIOHTTP1
import PortalCore

/// What one pass over a request head tells the proxy.
struct RequestFacts {
    /// The host part of `Host`, lower-cased, without port.
    var host: String?
    /// The `Host` header as sent.
    var rawHost: String?
    var contentLength: Int?
    var chunked = false
    var expectContinue = false
    var referer: String?
    var userAgent: String?
    var acceptEncoding: String?
    /// A `Connection` header names headers to drop.
    var connectionTokens: [String] = []
    /// `websocket` when the client asks to upgrade to WebSocket (`Connection: upgrade` and `Upgrade: websocket`).
    var upgrade: String?
    private var upgradeHeader: String?

    var hasBody: Bool { chunked || (contentLength ?? 0) > 0 }

    /// How the body is delimited when the request goes upstream.
    var framing: ForwardedRequest.BodyFraming {
        if chunked { return .chunked }
        return contentLength.map { .contentLength($0) } ?? .none
    }

    /// The request asks to switch protocols (`Connection: upgrade` with an `Upgrade` header).
    var asksUpgrade: Bool { upgradeHeader != nil && connectionTokens.contains("upgrade") }

    mutating func recordUpgrade(_ value: String) {
        upgradeHeader = value
    }

    /// Only a WebSocket upgrade named in `Connection` is passed through; others are dropped.
    mutating func resolveUpgrade() {
        guard let value = upgradeHeader, connectionTokens.contains("upgrade"),
              ASCII.equalsIgnoringCase(value.trimmingASCIISpaces(), "websocket") else { return }
        upgrade = "websocket"
    }
}

/// Checks a request head before anything is forwarded: the limits (Apache's `LimitRequest*`)
/// and the rules that keep a reverse proxy from being confused or smuggled through. One pass
/// over the headers, byte comparisons only.
enum RequestValidator {
    enum Verdict {
        case accept(RequestFacts)
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
        switch head.method {
        case .CONNECT, .TRACE:
            return .reject(.methodNotAllowed, "\(head.method.rawValue) is not served by a reverse proxy")
        case .RAW(let name) where head.version.major == 2 && name != "QUERY":
            // HTTP/1.1's parser knows a fixed list of methods and the edge answers 501 to others;
            // HTTP/2 gets the same answer, so an application behaves alike over both.
            return .reject(.notImplemented, "unknown method \(name)")
        default:
            break
        }
        if head.uri.utf8.first != UInt8(ascii: "/") && !(head.method == .OPTIONS && head.uri == "*") {
            return .reject(.badRequest, "request target must be a path (absolute-form is for forward proxies)")
        }
        var facts = RequestFacts()
        var hostCount = 0
        var authorizationCount = 0
        var lengthCount = 0
        var encodingCount = 0
        for header in head.headers {
            let name = header.name
            // Whitespace around a value is not part of it (RFC 9112 §5); NIO keeps what trails.
            let value = ASCII.hasOuterWhitespace(header.value) ? header.value.trimmingASCIISpaces() : header.value
            if name.utf8.count + value.utf8.count + 2 > settings.maxHeaderBytes {
                return .reject(.requestHeaderFieldsTooLarge, "header field \(name) longer than \(settings.maxHeaderBytes) bytes")
            }
            switch name.utf8.count {
            case 13 where ASCII.equalsIgnoringCase(name, "authorization"):
                // One set of credentials: with two, the edge's basic auth and the app could each
                // read a different one (nginx refuses the request too).
                authorizationCount += 1
                if authorizationCount > 1 { return .reject(.badRequest, "more than one Authorization header") }
            case 4 where ASCII.equalsIgnoringCase(name, "host"):
                hostCount += 1
                facts.rawHost = value
            case 14 where ASCII.equalsIgnoringCase(name, "content-length"):
                lengthCount += 1
                guard !value.isEmpty, value.utf8.count <= 18, value.utf8.allSatisfy(ASCII.isDigit),
                      let length = Int(value) else {
                    return .reject(.badRequest, "malformed Content-Length")
                }
                facts.contentLength = length
            case 17 where ASCII.equalsIgnoringCase(name, "transfer-encoding"):
                encodingCount += 1
                facts.chunked = ASCII.equalsIgnoringCase(value.trimmingASCIISpaces(), "chunked")
                if !facts.chunked { return .reject(.badRequest, "unsupported Transfer-Encoding") }
            case 7 where ASCII.equalsIgnoringCase(name, "upgrade"):
                facts.recordUpgrade(value)
            case 6 where ASCII.equalsIgnoringCase(name, "expect"):
                facts.expectContinue = ASCII.equalsIgnoringCase(value.trimmingASCIISpaces(), "100-continue")
                // 100-continue is the only expectation there is (RFC 9110 §10.1.1); Apache
                // answers others with 417, and so does the edge (HTTP/1.0 had no Expect).
                if !facts.expectContinue && head.version != .http1_0 {
                    return .reject(.expectationFailed, "unknown expectation in Expect")
                }
            case 15 where ASCII.equalsIgnoringCase(name, "accept-encoding"):
                facts.acceptEncoding = facts.acceptEncoding.map { "\($0), \(value)" } ?? value
            case 7 where ASCII.equalsIgnoringCase(name, "referer"):
                facts.referer = value
            case 10 where ASCII.equalsIgnoringCase(name, "user-agent"):
                facts.userAgent = value
            case 10 where ASCII.equalsIgnoringCase(name, "connection"):
                for token in value.split(separator: ",") {
                    let trimmed = token.trimmingASCIISpaces()
                    if !trimmed.isEmpty { facts.connectionTokens.append(ASCII.lowercased(Substring(trimmed))) }
                }
            default:
                break
            }
        }
        if hostCount > 1 { return .reject(.badRequest, "more than one Host header") }
        if head.version.minor >= 1 && hostCount == 0 { return .reject(.badRequest, "HTTP/1.1 request without Host") }
        if let raw = facts.rawHost {
            guard let host = HostHeader.hostPart(raw) else { return .reject(.badRequest, "malformed Host header") }
            facts.host = host
        }
        if lengthCount > 1 { return .reject(.badRequest, "more than one Content-Length") }
        if encodingCount > 1 { return .reject(.badRequest, "unsupported Transfer-Encoding") }
        if lengthCount > 0 && encodingCount > 0 {
            return .reject(.badRequest, "both Content-Length and Transfer-Encoding")
        }
        if head.version == .http1_0 {
            // HTTP/1.0 has no chunked framing (RFC 9112 §6.1) and no 100-continue (RFC 9110 §10.1.1).
            if encodingCount > 0 { return .reject(.badRequest, "Transfer-Encoding in an HTTP/1.0 request") }
            facts.expectContinue = false
        }
        // Nothing to wait for without a body: no `100 Continue` before the answer.
        if !facts.hasBody { facts.expectContinue = false }
        facts.resolveUpgrade()
        return .accept(facts)
    }

    /// True when a body follows the head (without a full validation).
    static func hasBody(_ head: HTTPRequestHead) -> Bool {
        if head.headers.contains(name: "transfer-encoding") { return true }
        return (head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0) > 0
    }
}
