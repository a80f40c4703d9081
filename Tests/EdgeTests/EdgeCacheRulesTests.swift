@testable import Edge
import NIOCore
import NIOHTTP1
import Testing

/// The cache's rules (RFC 9111) and its memory budget, without a network.
@Suite("Edge: cache rules")
struct EdgeCacheRulesTests {
    private func response(_ fields: [(String, String)], status: HTTPResponseStatus = .ok) -> HTTPResponseHead {
        HTTPResponseHead(version: .http1_1, status: status, headers: HTTPHeaders(fields))
    }

    private func storage(_ head: HTTPResponseHead, method: HTTPMethod = .GET, credentials: Bool = false,
                         defaultTTL: Int = 0) -> (lifetime: Int, shared: Bool, staleAllowed: Bool)? {
        CachePolicy.storage(of: head, requestMethod: method, requestHasCredentials: credentials,
                            defaultTTL: defaultTTL, now: 1_000_000)
    }

    @Test("lifetimes: s-maxage before max-age before Expires; nothing stated needs a default")
    func lifetimes() {
        #expect(storage(response([("Cache-Control", "max-age=60, s-maxage=600")]))?.lifetime == 600)
        #expect(storage(response([("Cache-Control", "MAX-AGE=\"90\"")]))?.lifetime == 90)
        #expect(storage(response([("Cache-Control", "max-age=0")])) == nil)
        #expect(storage(response([("Cache-Control", "max-age=abc")])) == nil)
        let date = HTTPDate.format(1_000_000)
        let inAnHour = HTTPDate.format(1_003_600)
        #expect(storage(response([("Date", date), ("Expires", inAnHour)]))?.lifetime == 3_600)
        #expect(storage(response([("Expires", "0")])) == nil)
        #expect(storage(response([("Date", inAnHour), ("Expires", date)])) == nil)
        #expect(storage(response([])) == nil)
        #expect(storage(response([]), defaultTTL: 30)?.lifetime == 30)
        // Absurd numbers from an upstream are capped (RFC 9111 §1.2.2), so sums cannot overflow.
        let huge = response([("Cache-Control", "max-age=9223372036854775807"), ("Age", "9223372036854775807")])
        #expect(storage(huge)?.lifetime == CacheControl.maxDeltaSeconds)
        #expect(CachePolicy.initialAge(huge.headers) == CacheControl.maxDeltaSeconds)
        let recording = CacheRecording(key: "k", head: huge, lifetime: CacheControl.maxDeltaSeconds, shared: false,
                                       variance: [], limit: 10, allocator: ByteBufferAllocator(), staleOnError: 3_600)
        let stored = recording.response(storedAt: .now(), receivedAt: 0)
        #expect(!stored.isFresh(now: .now()) || stored.isUsableOnError(now: .now()))
    }

    @Test("responses that must not be kept", arguments: [
        [("Cache-Control", "no-store, max-age=60")],
        [("Cache-Control", "private, max-age=60")],
        [("Cache-Control", "private=\"Set-Cookie\", max-age=60")],
        [("Cache-Control", "no-cache, max-age=60")],
        [("Cache-Control", "max-age=60"), ("Set-Cookie", "a=b")],
        [("Cache-Control", "max-age=60"), ("Vary", "*")],
        [("Cache-Control", "max-age=60"), ("Content-Range", "bytes 0-1/2")],
    ])
    func notStorable(fields: [(String, String)]) {
        #expect(storage(response(fields)) == nil)
    }

    @Test("status codes, methods and credentials")
    func statusAndCredentials() {
        let fresh = [("Cache-Control", "max-age=60")]
        #expect(storage(response(fresh, status: .notFound)) != nil)
        #expect(storage(response(fresh, status: .movedPermanently)) != nil)
        #expect(storage(response(fresh, status: .internalServerError)) == nil)
        #expect(storage(response(fresh, status: .found)) == nil)
        #expect(storage(response(fresh, status: .partialContent)) == nil)
        #expect(storage(response(fresh), method: .HEAD) == nil)
        #expect(storage(response(fresh), credentials: true) == nil)
        #expect(storage(response([("Cache-Control", "public, max-age=60")]), credentials: true)?.shared == true)
        #expect(storage(response([("Cache-Control", "s-maxage=60")]), credentials: true)?.shared == true)
        #expect(storage(response(fresh))?.shared == false)
        // An expired copy may stand in for a failing upstream unless the upstream forbade it.
        #expect(storage(response(fresh))?.staleAllowed == true)
        #expect(storage(response([("Cache-Control", "max-age=60, must-revalidate")]))?.staleAllowed == false)
        #expect(storage(response([("Cache-Control", "max-age=60, proxy-revalidate")]))?.staleAllowed == false)
        #expect(storage(response([("Cache-Control", "s-maxage=60")]))?.staleAllowed == false)
        #expect(CachePolicy.validatorsApply(to: .ok))
        #expect(!CachePolicy.validatorsApply(to: .notFound))
        #expect(!CachePolicy.validatorsApply(to: .movedPermanently))
    }

    @Test("what each request asks of the cache")
    func requestUse() {
        func use(_ method: HTTPMethod, _ fields: [(String, String)] = []) -> CachePolicy.RequestUse {
            CachePolicy.use(for: HTTPRequestHead(version: .http1_1, method: method, uri: "/", headers: HTTPHeaders(fields)))
        }
        #expect(use(.GET) == .lookup)
        #expect(use(.HEAD) == .lookup)
        #expect(use(.GET, [("Cache-Control", "no-cache")]) == .refresh)
        #expect(use(.GET, [("Cache-Control", "max-age=0")]) == .refresh)
        #expect(use(.GET, [("Pragma", "no-cache")]) == .refresh)
        #expect(use(.GET, [("Cache-Control", "no-store")]) == .bypass)
        #expect(use(.GET, [("Range", "bytes=0-1")]) == .bypass)
        #expect(use(.OPTIONS) == .bypass)
        #expect(use(.POST) == .invalidate)
        #expect(use(.DELETE) == .invalidate)
        #expect(use(.MKCOL) == .invalidate)
        #expect(use(.PROPFIND) == .bypass)
    }

    private func entry(size: Int, lifetime: Int = 60, vary: [(name: String, value: String?)] = []) -> CachedResponse {
        CachedResponse(head: response([]), body: ByteBuffer(repeating: 0x61, count: size), storedAt: .now(),
                       initialAge: 0, lifetime: lifetime, variance: vary, sharedWithCredentials: false, size: size)
    }

    @Test("a stored answer is framed by its length, counted at its size, and aged by its Date")
    func recording() {
        let date = HTTPDate.format(1_000_000)
        let head = response([("Date", date), ("Transfer-Encoding", "chunked"), ("Cache-Control", "max-age=300")])
        let recording = CacheRecording(key: "k", head: head, lifetime: 300, shared: false, variance: [], limit: 10,
                                       allocator: ByteBufferAllocator())
        #expect(recording.append(ByteBuffer(string: "12345")))
        #expect(recording.append(ByteBuffer(string: "678")))
        #expect(!recording.append(ByteBuffer(string: "abc")))
        let stored = recording.response(storedAt: .now(), receivedAt: 1_000_100)
        #expect(stored.head.headers.first(name: "content-length") == "8")
        #expect(!stored.head.headers.contains(name: "transfer-encoding"))
        #expect(stored.body.capacity == 8)
        // Made 100 s before it arrived: 100 s of its 300 are gone already.
        #expect(stored.initialAge == 100)
        let noContent = CacheRecording(key: "k", head: response([("Content-Length", "0")], status: .noContent), lifetime: 60,
                                       shared: false, variance: [], limit: 10, allocator: ByteBufferAllocator())
        #expect(!noContent.response(storedAt: .now(), receivedAt: 0).head.headers.contains(name: "content-length"))
    }

    @Test("the memory budget drops the least recently used responses first")
    func eviction() {
        let cache = ResponseCache(capacity: 10_000)
        let none = HTTPHeaders()
        for index in 0..<5 { cache.store(entry(size: 2_000), under: "k\(index)") }
        // k0 is used again, so k1 is now the least recently used.
        #expect(cache.lookup("k0", requestHeaders: none, hasCredentials: false, now: .now()) != nil)
        cache.store(entry(size: 2_000), under: "k5")
        #expect(cache.usage.bytes <= 10_000)
        #expect(cache.lookup("k1", requestHeaders: none, hasCredentials: false, now: .now()) == nil)
        #expect(cache.lookup("k0", requestHeaders: none, hasCredentials: false, now: .now()) != nil)
        #expect(cache.lookup("k5", requestHeaders: none, hasCredentials: false, now: .now()) != nil)
        // Larger than the whole budget: never kept.
        cache.store(entry(size: 20_000), under: "huge")
        #expect(cache.lookup("huge", requestHeaders: none, hasCredentials: false, now: .now()) == nil)
        cache.invalidate("k0")
        #expect(cache.lookup("k0", requestHeaders: none, hasCredentials: false, now: .now()) == nil)
        // Many variants of one target stay within the budget as well.
        for language in 0..<8 {
            cache.store(entry(size: 3_000, vary: [(name: "accept-language", value: "l\(language)")]), under: "varied")
        }
        #expect(cache.usage.bytes <= 10_000)
    }

    @Test("an answer fetched before an invalidation is not stored after it")
    func invalidationWhileFetching() {
        let cache = ResponseCache(capacity: 100_000)
        let none = HTTPHeaders()
        let before = cache.fetchStarted()
        cache.invalidate("k")
        cache.store(entry(size: 10), under: "k", fetchedSince: before)
        #expect(cache.lookup("k", requestHeaders: none, hasCredentials: false, now: .now()) == nil)
        cache.store(entry(size: 10), under: "k", fetchedSince: cache.fetchStarted())
        #expect(cache.lookup("k", requestHeaders: none, hasCredentials: false, now: .now()) != nil)
        // Another key's invalidation does not stop this one from being stored.
        let started = cache.fetchStarted()
        cache.invalidate("other")
        cache.store(entry(size: 10), under: "third", fetchedSince: started)
        #expect(cache.lookup("third", requestHeaders: none, hasCredentials: false, now: .now()) != nil)
    }

    @Test("variants by Vary, stale entries dropped, credentials kept apart")
    func variants() {
        let cache = ResponseCache(capacity: 1_000_000)
        cache.store(entry(size: 10, vary: [(name: "accept-language", value: "pt-BR")]), under: "k")
        cache.store(entry(size: 20, vary: [(name: "accept-language", value: nil)]), under: "k")
        let portuguese = HTTPHeaders([("Accept-Language", "pt-BR")])
        #expect(cache.lookup("k", requestHeaders: portuguese, hasCredentials: false, now: .now())?.body.readableBytes == 10)
        #expect(cache.lookup("k", requestHeaders: HTTPHeaders(), hasCredentials: false, now: .now())?.body.readableBytes == 20)
        #expect(cache.lookup("k", requestHeaders: HTTPHeaders([("Accept-Language", "en")]), hasCredentials: false, now: .now()) == nil)
        #expect(cache.lookup("k", requestHeaders: portuguese, hasCredentials: true, now: .now()) == nil)
        #expect(cache.lookup("k", requestHeaders: portuguese, hasCredentials: false, now: .now() + .seconds(61)) == nil)
        #expect(cache.usage == ResponseCache.Usage(entries: 0, bytes: 0))
    }
}

/// Request targets to file segments, byte by byte.
@Suite("Edge: static paths")
struct StaticPathTests {
    @Test("targets become segments; every way out of the root is refused")
    func resolve() {
        #expect(StaticPath.resolve(uri: "/static/css/app.css?v=3", prefix: "/static/") == .segments(["css", "app.css"]))
        #expect(StaticPath.resolve(uri: "/static/relat%C3%B3rio%20final.pdf", prefix: "/static/") == .segments(["relatório final.pdf"]))
        #expect(StaticPath.resolve(uri: "/static/ação.css#x", prefix: "/static/") == .segments(["ação.css"]))
        #expect(StaticPath.resolve(uri: "/static", prefix: "/static/") == .segments([]))
        #expect(StaticPath.resolve(uri: "/other/x", prefix: "/static/") == .refused)
        #expect(StaticPath.resolve(uri: "/static/%2e%2e/x", prefix: "/static/") == .refused)
        #expect(StaticPath.resolve(uri: "/static/%252E%252e/x", prefix: "/static/") == .refused)
        #expect(StaticPath.resolve(uri: "/static/a%2500b", prefix: "/static/") == .refused)
        #expect(StaticPath.resolve(uri: "/static/a%5Cb", prefix: "/static/") == .refused)
        #expect(StaticPath.resolve(uri: "/static/a%00", prefix: "/static/") == .refused)
        #expect(StaticPath.resolve(uri: "/static/%zz", prefix: "/static/") == .malformed)
        #expect(StaticPath.resolve(uri: "/static/%C3", prefix: "/static/") == .malformed)
    }

    @Test("route prefixes match at a segment boundary")
    func routePrefix() {
        let route = Route(path: "/api", upstreams: [], maxBodyBytes: 0, preserveHost: true)
        #expect(route.matches("/api"))
        #expect(route.matches("/api/x"))
        #expect(route.matches("/api?x"))
        #expect(!route.matches("/apix"))
        #expect(!route.matches("/ap"))
    }
}
