import Logging
import Foundation
import NIOCore
import NIOHTTP1
import PortalCore

/// One request from a client and its response, as the proxy handler moves it along.
final class Exchange {
    let head: HTTPRequestHead
    /// The request target with its path normalized (`RequestTarget`): what routes, access
    /// rules, files, the cache and the upstream see. The access log keeps the target as sent.
    var target: String
    let clientAddress: String
    let started = NIODeadline.now()
    /// Seconds since the epoch when the request arrived, for the access log.
    let startedAt = time(nil)

    var upstreamHead: HTTPRequestHead?
    /// What validation learned about the head.
    var facts: RequestFacts?
    var site: Site?
    var route: Route?
    /// Whether the client connection stays open after this exchange.
    var keepAlive: Bool
    var requestEnded = false
    /// The client was too slow sending its body: the connection closes without draining it.
    var clientTimedOut = false
    var requestBodyBytes = 0
    var maxBodyBytes = Int.max
    var bufferedBody: [ByteBuffer] = []
    var bufferedBytes = 0
    /// Set once body bytes went upstream without being kept; the request can then not be sent again.
    var streamedBody = false
    /// True when the whole request is still at hand, so it can be sent on another connection.
    var bodyReplayable: Bool { requestEnded && !streamedBody }

    var upstream: UpstreamConnection?
    var upstreamAddress: HostAndPort?
    /// `upstreamAddress` as the logs write it, set with it.
    var upstreamAddressText: String?
    var upstreamNeedsFlush = false
    var wasReused = false
    var attempts = 0
    var upstreamKeepAlive = true
    var upstreamSentAt: NIODeadline?
    var upstreamAnsweredAt: NIODeadline?
    /// When the upstream's answer ended (its last byte arrived).
    var upstreamEndedAt: NIODeadline?
    var lastUpstreamActivity = NIODeadline.now()

    var responseStarted = false
    var responseEnded = false
    var skippingInformational = false
    /// The upstream's `101` for a WebSocket upgrade, held until its `.end`.
    var upgradeHead: HTTPResponseHead?
    /// Compresses the response body when the client accepts gzip or brotli.
    var gzip: (any BodyCompressor)?
    /// A static file being sent; kept open until the exchange's last write has gone out.
    var openFile: SharedFile?
    /// Bytes of a static file written so far (chunked sending).
    var staticBytesWritten = 0

    func closeFile() {
        openFile = nil
    }

    /// Detaches the upstream connection and closes it: it cannot serve another request.
    func dropUpstream() {
        let connection = upstream
        upstream = nil
        connection?.close()
    }

    /// What an error-log line about this exchange's upstream says, besides `extra`.
    func upstreamLogMetadata(_ extra: Logger.Metadata = [:]) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "upstream": "\(upstreamAddress.map(String.init(describing:)) ?? "-")",
            "uri": "\(head.uri)", "site": "\(site?.name ?? "-")",
        ]
        metadata.merge(extra) { $1 }
        return metadata
    }
    /// How the route's cache treats this exchange; nil when the route does not cache.
    var cacheUse: CachePolicy.RequestUse?
    var cacheKey: String?
    /// The cache's invalidation count when this request went to the upstream.
    var cacheEpoch: ResponseCache.Epoch?
    /// `HIT`, `MISS` or `BYPASS`, sent to the client as `X-Cache`.
    var cacheStatus: String?
    /// The upstream's response being copied for the cache.
    var cacheRecording: CacheRecording?
    /// The answer comes from the cache (a hit, or a stale answer standing in for a failing upstream).
    var answeredFromCache = false
    var answeredLocally = false
    /// Counted among its connection's exchanges in progress (`ConnectionScope.exchangeBegan`).
    var inFlight = false
    var status: UInt = 0
    var bytesSent = 0

    init(head: HTTPRequestHead, clientAddress: String, keepAlive: Bool) {
        self.head = head
        self.target = head.uri
        self.clientAddress = clientAddress
        self.keepAlive = keepAlive
    }

    /// The basic-auth user name, for the access log.
    var user: String?
    /// Set for a request refused before it could be parsed: the request line as received.
    var rawRequestLine: String?

    func touch() {
        lastUpstreamActivity = .now()
    }

    func logEntry() -> AccessLogEntry {
        var upstreamTime: Int64?
        var upstreamHeaderTime: Int64?
        if let sent = upstreamSentAt, let answered = upstreamAnsweredAt {
            upstreamHeaderTime = (answered - sent).nanoseconds
            // An answer cut short counts until the edge stopped receiving it.
            upstreamTime = ((upstreamEndedAt ?? (responseEnded ? answered : .now())) - sent).nanoseconds
        }
        return AccessLogEntry(
            clientAddress: clientAddress,
            time: startedAt,
            method: head.method.rawValue,
            uri: head.uri,
            version: head.version == .http1_1 ? "HTTP/1.1" : head.version == .http1_0 ? "HTTP/1.0"
                : "HTTP/\(head.version.major).\(head.version.minor)",
            status: Int(status),
            bytesSent: bytesSent,
            referer: facts?.referer ?? (facts == nil ? head.headers.first(name: "referer") : nil),
            userAgent: facts?.userAgent ?? (facts == nil ? head.headers.first(name: "user-agent") : nil),
            upstream: upstreamAddressText ?? upstreamAddress?.description,
            durationNanoseconds: (NIODeadline.now() - started).nanoseconds,
            site: site?.name,
            upstreamNanoseconds: upstreamTime,
            upstreamHeaderNanoseconds: upstreamHeaderTime,
            cache: cacheStatus,
            user: user,
            rawRequestLine: rawRequestLine
        )
    }
}
