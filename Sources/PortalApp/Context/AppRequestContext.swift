public import Hummingbird
import Logging
import NIOCore
public import PortalData

/// Per-request state of the portal app: the TCP peer, what the trusted proxy says about the
/// client, and the signed-in user.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// IP address of the TCP peer (the edge, normally).
    public let peerAddress: String?
    /// Client address, scheme and host after the trusted-proxy rules.
    public var origin: TrustedProxyPolicy.Origin
    /// The signed-in user, set by `SessionMiddleware`.
    public var user: UserAccount?
    /// The raw session token from the cookie, when the session is valid.
    public var sessionToken: String?
    /// The personal API token of an `/api/v1` call, set by `APITokenMiddleware`.
    public var apiToken: APITokenSummary?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.peerAddress = source.channel.remoteAddress?.ipAddress
        self.origin = .init(clientAddress: peerAddress ?? "-", scheme: "http", host: nil, viaTrustedProxy: false)
    }

    /// Forms and JSON bodies larger than this are refused with 413.
    public var maxUploadSize: Int { 1024 * 1024 }
}
