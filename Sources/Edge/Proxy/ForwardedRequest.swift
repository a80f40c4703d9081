import NIOCore
import NIOHTTP1
import PortalCore

/// Turns the client's request head into the head sent upstream in one pass: hop-by-hop
/// headers removed, `Host` kept (Apache's `ProxyPreserveHost On`) or set to the upstream, and
/// the `X-Forwarded-*` and `X-Real-IP` headers (and optionally RFC 7239 `Forwarded`) set.
struct ForwardedRequest {
    /// `https` or `http`, the scheme the client used.
    let scheme: String
    /// The port the client connected to, as text.
    let localPort: String?
    /// Also send `Forwarded`.
    var forwardedHeader = false

    init(scheme: String, localPort: Int?, forwardedHeader: Bool = false) {
        self.scheme = scheme
        self.localPort = localPort.map(String.init)
        self.forwardedHeader = forwardedHeader
    }

    /// How the body that follows a request head is delimited on the way upstream.
    enum BodyFraming: Equatable {
        /// No body (HTTP/1's parser saw no length; an HTTP/2 stream without one must send none).
        case none
        case contentLength(Int)
        case chunked
    }

    /// A field name that reads as one of the forwarding fields once `_` is taken for `-`.
    static func spoofsForwarding(_ name: String) -> Bool {
        let dashed = String(name.lowercased().map { $0 == "_" ? "-" : $0 })
        return ["forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-port", "x-forwarded-proto",
                "x-real-ip"].contains(dashed)
    }

    /// `framing` is the body the client announced (the validator's facts): the upstream head
    /// always states it itself, whatever the client's `Content-Length` or `Connection` said, so
    /// NIO's encoder never writes body bytes the upstream would read as a second request.
    func upstreamHead(for head: HTTPRequestHead, target: String? = nil, clientAddress: String?, preserveHost: Bool = true,
                      upstream: HostAndPort? = nil, connectionTokens: [String]? = nil,
                      upgrade: String? = nil, framing: BodyFraming = .none) -> HTTPRequestHead {
        let listed = connectionTokens ?? HopByHopHeaders.connectionTokens(head.headers)
        var headers: [(String, String)] = []
        headers.reserveCapacity(head.headers.count + 5)
        var forwardedFor: String?
        var forwarded: String?
        var originalHost: String?
        var cookie: String?
        for header in head.headers {
            let name = header.name
            switch name.utf8.count {
            case 4 where ASCII.equalsIgnoringCase(name, "host"):
                originalHost = header.value
                if !preserveHost { continue }
            case 6 where ASCII.equalsIgnoringCase(name, "expect"):
                continue
            case 6 where ASCII.equalsIgnoringCase(name, "cookie"):
                if !listed.isEmpty, listed.contains("cookie") { continue }
                // HTTP/2 clients send each cookie as its own field; an HTTP/1.1 upstream expects
                // one line joined with "; " (RFC 9113 §8.2.3).
                cookie = cookie.map { "\($0); \(header.value)" } ?? header.value
                continue
            case 14 where ASCII.equalsIgnoringCase(name, "content-length"):
                continue
            case 9 where ASCII.equalsIgnoringCase(name, "forwarded"):
                // Only the edge's own element is vouched for; without `forwarded_header` the
                // client's claim is dropped, as its X-Forwarded-Proto/-Host/-Port are.
                if forwardedHeader { forwarded = forwarded.map { "\($0), \(header.value)" } ?? header.value }
                continue
            case 9 where ASCII.equalsIgnoringCase(name, "x-real-ip"):
                // The edge states the address itself below: a client's claim is never passed on.
                continue
            case 15 where ASCII.equalsIgnoringCase(name, "x-forwarded-for"):
                forwardedFor = forwardedFor.map { "\($0), \(header.value)" } ?? header.value
                continue
            case 16 where ASCII.equalsIgnoringCase(name, "x-forwarded-host"):
                continue
            case 16 where ASCII.equalsIgnoringCase(name, "x-forwarded-port"):
                continue
            case 17 where ASCII.equalsIgnoringCase(name, "x-forwarded-proto"):
                continue
            default:
                if HopByHopHeaders.isHopByHop(name) { continue }
                if !listed.isEmpty, listed.contains(where: { ASCII.equalsIgnoringCase(name, $0) }) { continue }
                // `X_Forwarded_For` becomes the same HTTP_X_FORWARDED_FOR as the edge's own field
                // in a WSGI or CGI app: a client must not be able to claim it that way either.
                if name.utf8.contains(UInt8(ascii: "_")), Self.spoofsForwarding(name) { continue }
            }
            headers.append((name, header.value))
        }
        if let cookie { headers.append(("Cookie", cookie)) }
        switch framing {
        case .none:
            // NIO's encoder would frame a bodiless POST, PUT or PATCH as chunked (an empty body
            // some upstreams refuse with 411); an explicit zero length says the same plainly.
            switch head.method {
            case .POST, .PUT, .PATCH: headers.append(("Content-Length", "0"))
            default: break
            }
        case .contentLength(let length): headers.append(("Content-Length", String(length)))
        case .chunked: headers.append(("Transfer-Encoding", "chunked"))
        }
        // An HTTP/1.0 client may send no Host; the request goes up as HTTP/1.1, which needs one.
        if !preserveHost || originalHost == nil, let upstream {
            headers.append(("Host", upstream.description))
        }
        if let clientAddress {
            headers.append(("X-Forwarded-For", forwardedFor.map { "\($0), \(clientAddress)" } ?? clientAddress))
            // The address the edge saw, as nginx's common `proxy_set_header X-Real-IP $remote_addr`.
            headers.append(("X-Real-IP", clientAddress))
        }
        headers.append(("X-Forwarded-Proto", scheme))
        if let upgrade {
            headers.append(("Connection", "Upgrade"))
            headers.append(("Upgrade", upgrade))
        }
        if let originalHost { headers.append(("X-Forwarded-Host", originalHost)) }
        if let localPort { headers.append(("X-Forwarded-Port", localPort)) }
        if forwardedHeader {
            var element = "proto=\(scheme)"
            if let clientAddress {
                element = "for=\(clientAddress.contains(":") ? "\"[\(clientAddress)]\"" : clientAddress);" + element
            }
            if let originalHost { element += ";host=\"\(originalHost)\"" }
            // A client's value that breaks the grammar is dropped: appended to, it could take the
            // edge's element into an unclosed quoted string.
            let earlier = forwarded.flatMap { ForwardedSyntax.isValid($0) ? $0 : nil }
            headers.append(("Forwarded", earlier.map { "\($0), \(element)" } ?? element))
        }
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: target ?? head.uri,
                              headers: HTTPHeaders(headers))
    }
}
