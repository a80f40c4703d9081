import NIOCore
import PortalCore

/// What a client-facing connection needs to know to proxy its requests.
struct ProxySettings: Sendable {
    var upstreams: [HostAndPort]
    var scheme: String
    var proxyTimeout: TimeAmount
    var requestHeaderTimeout: TimeAmount
    var keepAliveTimeout: TimeAmount
    var maxKeepAliveRequests: Int
    /// Request body bytes held while the upstream connection is being opened.
    var maxBufferedRequestBytes: Int = 64 * 1024
}
