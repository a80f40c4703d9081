import NIOCore
import NIOHTTP1

/// Turns the client's request head into the head sent upstream: hop-by-hop headers removed,
/// `Host` kept (Apache's `ProxyPreserveHost On`), and the `X-Forwarded-*` headers set.
struct ForwardedRequest {
    /// `https` or `http`, the scheme the client used.
    let scheme: String
    /// The port the client connected to.
    let localPort: Int?

    func upstreamHead(for head: HTTPRequestHead, clientAddress: String?) -> HTTPRequestHead {
        var headers = head.headers
        HopByHopHeaders.strip(&headers)
        headers.remove(name: "expect")

        if let clientAddress {
            let previous = headers[canonicalForm: "x-forwarded-for"].joined(separator: ", ")
            headers.replaceOrAdd(name: "X-Forwarded-For",
                                 value: previous.isEmpty ? clientAddress : "\(previous), \(clientAddress)")
        }
        headers.replaceOrAdd(name: "X-Forwarded-Proto", value: scheme)
        if let host = headers.first(name: "host") {
            headers.replaceOrAdd(name: "X-Forwarded-Host", value: host)
        } else {
            headers.remove(name: "x-forwarded-host")
        }
        if let localPort {
            headers.replaceOrAdd(name: "X-Forwarded-Port", value: String(localPort))
        }
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri, headers: headers)
    }
}
