import NIOCore
import NIOHTTP1
import PortalCore

/// Turns the client's request head into the head sent upstream: hop-by-hop headers removed,
/// `Host` kept (Apache's `ProxyPreserveHost On`) or set to the upstream, and the
/// `X-Forwarded-*` headers (and optionally RFC 7239 `Forwarded`) set.
struct ForwardedRequest {
    /// `https` or `http`, the scheme the client used.
    let scheme: String
    /// The port the client connected to.
    let localPort: Int?
    /// Also send `Forwarded`.
    var forwardedHeader = false

    func upstreamHead(for head: HTTPRequestHead, clientAddress: String?, preserveHost: Bool = true,
                      upstream: HostAndPort? = nil) -> HTTPRequestHead {
        var headers = head.headers
        HopByHopHeaders.strip(&headers)
        headers.remove(name: "expect")
        let originalHost = headers.first(name: "host")

        if let clientAddress {
            let previous = headers[canonicalForm: "x-forwarded-for"].joined(separator: ", ")
            headers.replaceOrAdd(name: "X-Forwarded-For",
                                 value: previous.isEmpty ? clientAddress : "\(previous), \(clientAddress)")
        }
        headers.replaceOrAdd(name: "X-Forwarded-Proto", value: scheme)
        if let originalHost {
            headers.replaceOrAdd(name: "X-Forwarded-Host", value: originalHost)
        } else {
            headers.remove(name: "x-forwarded-host")
        }
        if let localPort {
            headers.replaceOrAdd(name: "X-Forwarded-Port", value: String(localPort))
        }
        if forwardedHeader {
            var element = "proto=\(scheme)"
            if let clientAddress {
                element = "for=\(clientAddress.contains(":") ? "\"[\(clientAddress)]\"" : clientAddress);" + element
            }
            if let originalHost { element += ";host=\"\(originalHost)\"" }
            let previous = headers[canonicalForm: "forwarded"].joined(separator: ", ")
            headers.replaceOrAdd(name: "Forwarded", value: previous.isEmpty ? element : "\(previous), \(element)")
        }
        if !preserveHost, let upstream {
            headers.replaceOrAdd(name: "Host", value: upstream.description)
        }
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri, headers: headers)
    }
}
