import NIOCore
import NIOHTTP1

/// The rules of the edge's shared cache (RFC 9111), kept apart from the proxy's plumbing.
///
/// Beyond the RFC, requests that carry credentials (`Authorization` or `Cookie`) are answered
/// from and stored in the cache only when the upstream marks the response `public` or gives it
/// an `s-maxage`, so one user's page never reaches another because an application forgot
/// `Cache-Control: private`.
enum CachePolicy {
    /// What a caching route does with one request.
    enum RequestUse: Equatable {
        /// Answer from a fresh stored response when there is one; otherwise ask the upstream and
        /// keep its answer when allowed.
        case lookup
        /// The client wants a fresh answer (`no-cache`, `max-age=0`): ask the upstream, keep the answer.
        case refresh
        /// Neither look nor keep (`no-store`, a `Range`, methods other than GET and HEAD).
        case bypass
        /// An unsafe method: a successful answer makes the stored response of the target stale.
        case invalidate
    }

    static func use(for head: HTTPRequestHead) -> RequestUse {
        switch head.method {
        case .GET, .HEAD: break
        // Safe methods (RFC 9110 §9.2.1, and WebDAV's reading ones) leave stored answers alone.
        case .OPTIONS, .TRACE, .PROPFIND, .REPORT, .SEARCH: return .bypass
        // Every other method may change the target (RFC 9111 §4.4).
        default: return .invalidate
        }
        let control = CacheControl(head.headers)
        if control.noStore || head.headers.contains(name: "range") { return .bypass }
        if control.noCache || control.maxAge == 0 { return .refresh }
        if !head.headers.contains(name: "cache-control"),
           head.headers[canonicalForm: "pragma"].contains(where: { $0.lowercased() == "no-cache" }) {
            return .refresh
        }
        return .lookup
    }

    static func hasCredentials(_ headers: HTTPHeaders) -> Bool {
        headers.contains(name: "authorization") || headers.contains(name: "cookie")
    }

    /// Where a request's responses are kept: scheme, host, target and site, so two sites or two
    /// names of a wildcard site never share entries.
    static func key(scheme: String, host: String, port: Int, uri: String, site: String) -> String {
        "\(scheme)://\(host)\(uri) \(site) \(port)"
    }

    /// Conditional requests are evaluated only against a stored 200 or 203 (RFC 9110 §13.2.1: a
    /// 404 or a redirect is sent as it is).
    static func validatorsApply(to status: HTTPResponseStatus) -> Bool {
        status.code == 200 || status.code == 203
    }

    /// Status codes a cache may keep (RFC 9110 §15.1, without 206: ranges are passed through).
    static let storableStatuses: Set<UInt> = [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]

    /// How long the upstream's response may be served from the cache, whether it may reach
    /// requests with credentials, and whether it may ever be served once expired
    /// (`must-revalidate`, `proxy-revalidate` and `s-maxage` forbid it, RFC 9111 §5.2.2);
    /// nil when it must not be kept.
    static func storage(of head: HTTPResponseHead, requestMethod: HTTPMethod, requestHasCredentials: Bool,
                        defaultTTL: Int, now: Int) -> (lifetime: Int, shared: Bool, staleAllowed: Bool)? {
        guard requestMethod == .GET, storableStatuses.contains(head.status.code) else { return nil }
        let headers = head.headers
        let control = CacheControl(headers)
        if control.noStore || control.isPrivate || control.noCache { return nil }
        if headers.contains(name: "set-cookie") || headers.contains(name: "content-range") { return nil }
        if varyNames(headers).contains("*") { return nil }
        let shared = control.isPublic || control.sharedMaxAge != nil
        if requestHasCredentials && !shared { return nil }
        let lifetime: Int
        if let seconds = control.sharedMaxAge ?? control.maxAge {
            lifetime = seconds
        } else if let expires = headers.first(name: "expires") {
            // An Expires that cannot be read means "already expired" (RFC 9111 §5.3).
            guard let expiry = HTTPDate.parse(expires) else { return nil }
            let date = headers.first(name: "date").flatMap(HTTPDate.parse) ?? now
            lifetime = CacheControl.clamped(expiry - date)
        } else {
            lifetime = defaultTTL
        }
        let staleAllowed = !control.mustRevalidate && control.sharedMaxAge == nil
        return lifetime > 0 ? (lifetime, shared, staleAllowed) : nil
    }

    /// The request header names of a response's `Vary`, lowercased.
    static func varyNames(_ headers: HTTPHeaders) -> [String] {
        headers[canonicalForm: "vary"].map { $0.trimmingASCIISpaces().lowercased() }.filter { !$0.isEmpty }
    }

    /// The upstream's `Age`, in seconds (0 when absent or unreadable).
    static func initialAge(_ headers: HTTPHeaders) -> Int {
        headers.first(name: "age").flatMap { Int($0.trimmingASCIISpaces()) }.map(CacheControl.clamped) ?? 0
    }

    /// True when the client's validators match the stored response, so `304` answers it.
    static func notModified(request: HTTPHeaders, stored: HTTPHeaders) -> Bool {
        if let match = request.first(name: "if-none-match") {
            guard let etag = stored.first(name: "etag") else { return false }
            return ConditionalRequest.matches(match, etag: etag)
        }
        guard let since = request.first(name: "if-modified-since").flatMap(HTTPDate.parse),
              let modified = stored.first(name: "last-modified").flatMap(HTTPDate.parse) else { return false }
        return modified <= since
    }

    /// The fields a `304` carries over from the stored response (RFC 9110 §15.4.5).
    static let notModifiedFields = ["cache-control", "content-location", "date", "etag", "expires", "last-modified", "vary"]
}

/// A response being copied for the cache while it streams to the client; dropped as soon as it
/// cannot be kept (too large, cut short).
final class CacheRecording {
    let key: String
    let head: HTTPResponseHead
    let lifetime: Int
    let shared: Bool
    let variance: [(name: String, value: String?)]
    let limit: Int
    private(set) var body: ByteBuffer

    /// Seconds after expiry the stored answer may still stand in for a failing upstream.
    let staleOnError: Int

    init(key: String, head: HTTPResponseHead, lifetime: Int, shared: Bool, variance: [(name: String, value: String?)],
         limit: Int, allocator: ByteBufferAllocator, staleOnError: Int = 0) {
        self.staleOnError = staleOnError
        self.key = key
        self.head = head
        self.lifetime = lifetime
        self.shared = shared
        self.variance = variance
        self.limit = limit
        let expected = head.headers.first(name: "content-length").flatMap(Int.init) ?? 0
        // Start small: the buffer grows as the body arrives, and a body that outgrows the limit is dropped.
        self.body = allocator.buffer(capacity: min(max(expected, 0), limit, 64 * 1024))
        self.allocator = allocator
    }

    private let allocator: ByteBufferAllocator

    /// Copies `chunk`; false once the body has grown past the limit.
    func append(_ chunk: ByteBuffer) -> Bool {
        guard body.readableBytes + chunk.readableBytes <= limit else { return false }
        var chunk = chunk
        body.writeBuffer(&chunk)
        return true
    }

    /// The stored form: the whole body is known now, so it is framed by `Content-Length` (none
    /// on a 204), and it is copied into a buffer of exactly its size so the memory budget counts
    /// what is really held. `receivedAt` (seconds since the epoch) dates it against the
    /// upstream's `Date` (the apparent age of RFC 9111 §4.2.3).
    func response(storedAt: NIODeadline, receivedAt: Int) -> CachedResponse {
        var head = self.head
        head.headers.remove(name: "transfer-encoding")
        if head.status == .noContent {
            head.headers.remove(name: "content-length")
        } else {
            head.headers.replaceOrAdd(name: "Content-Length", value: String(body.readableBytes))
        }
        var exact = allocator.buffer(capacity: body.readableBytes)
        exact.writeImmutableBuffer(body)
        let headerBytes = head.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
        // An upstream that sends `Date` twice is taken at its oldest: the answer may not look fresher than it is.
        let apparentAge = head.headers["date"].compactMap(HTTPDate.parse).min().map { max(0, receivedAt - $0) } ?? 0
        return CachedResponse(head: head, body: exact, storedAt: storedAt,
                              initialAge: max(CachePolicy.initialAge(head.headers), apparentAge),
                              lifetime: lifetime, variance: variance, sharedWithCredentials: shared,
                              staleOnError: staleOnError, size: exact.readableBytes + headerBytes + ResponseCache.entryOverhead)
    }
}
