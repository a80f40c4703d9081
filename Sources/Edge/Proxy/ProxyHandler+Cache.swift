import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// The response cache inside the proxy: a request on a caching route is answered from a fresh
/// stored response when there is one (through the same path as an upstream's answer, so header
/// rules and compression apply alike); otherwise the upstream's answer is copied while it streams
/// and kept when it ends, if the rules allow.
extension ProxyHandler {
    /// Prepares the exchange for the route's cache; true when it was answered from the cache.
    func answerFromCache(_ exchange: Exchange, cache: RouteCache) -> Bool {
        guard let site = exchange.site else { return false }
        let use = CachePolicy.use(for: exchange.head)
        exchange.cacheUse = use
        // The Host as sent (port included) and the listener: the upstream sees both, so an
        // answer made for one must never be stored under another.
        exchange.cacheKey = CachePolicy.key(scheme: listener.tls ? "https" : "http",
                                            host: exchange.facts?.rawHost?.lowercased() ?? "-",
                                            port: listener.port, uri: exchange.target, site: site.name)
        switch use {
        case .bypass, .invalidate:
            exchange.cacheStatus = "BYPASS"
            metrics.cacheRequest(result: "bypass")
            return false
        case .refresh:
            exchange.cacheStatus = "MISS"
            exchange.cacheEpoch = cache.store.fetchStarted()
            metrics.cacheRequest(result: "miss")
            return false
        case .lookup:
            break
        }
        let now = NIODeadline.now()
        guard let key = exchange.cacheKey,
              let cached = cache.store.lookup(key, requestHeaders: exchange.head.headers,
                                              hasCredentials: CachePolicy.hasCredentials(exchange.head.headers), now: now)
        else {
            exchange.cacheStatus = "MISS"
            exchange.cacheEpoch = cache.store.fetchStarted()
            metrics.cacheRequest(result: "miss")
            return false
        }
        exchange.cacheStatus = "HIT"
        metrics.cacheRequest(result: "hit")
        replay(cached, to: exchange, now: now)
        return true
    }

    /// Sends a stored response as if the upstream had just answered, with its `Age`, or `304`
    /// when the client's validators match it.
    private func replay(_ cached: CachedResponse, to exchange: Exchange, now: NIODeadline) {
        exchange.answeredFromCache = true
        exchange.cacheRecording = nil
        var head = cached.head
        let age = String(cached.age(now: now))
        if CachePolicy.validatorsApply(to: cached.head.status),
           CachePolicy.notModified(request: exchange.head.headers, stored: cached.head.headers) {
            var headers = HTTPHeaders()
            for field in cached.head.headers where CachePolicy.notModifiedFields.contains(field.name.lowercased()) {
                headers.add(name: field.name, value: field.value)
            }
            headers.add(name: "Age", value: age)
            upstreamReceived(.head(HTTPResponseHead(version: head.version, status: .notModified, headers: headers)))
            upstreamReceived(.end(nil))
            return
        }
        head.headers.replaceOrAdd(name: "Age", value: age)
        upstreamReceived(.head(head))
        if exchange.head.method != .HEAD && cached.body.readableBytes > 0 {
            upstreamReceived(.body(cached.body))
        }
        upstreamReceived(.end(nil))
    }

    /// The upstream's response head arrived: start copying it when it may be kept, or make the
    /// stored response stale after a successful unsafe request.
    func cacheResponseStarted(_ exchange: Exchange, head: HTTPResponseHead) {
        guard let use = exchange.cacheUse, let key = exchange.cacheKey, let cache = exchange.route?.cache,
              !exchange.answeredFromCache else { return }
        switch use {
        case .invalidate:
            if head.status.code < 400 { cache.store.invalidate(key) }
        case .lookup, .refresh:
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > cache.maxEntryBytes {
                return
            }
            guard let context,
                  let storage = CachePolicy.storage(of: head, requestMethod: exchange.head.method,
                                                    requestHasCredentials: CachePolicy.hasCredentials(exchange.head.headers),
                                                    defaultTTL: cache.defaultTTL, now: time(nil))
            else { return }
            let variance = CachePolicy.varyNames(head.headers).map { name in
                (name: name, value: CachedResponse.varyValue(exchange.head.headers, name))
            }
            exchange.cacheRecording = CacheRecording(key: key, head: head, lifetime: storage.lifetime,
                                                     shared: storage.shared, variance: variance,
                                                     limit: cache.maxEntryBytes, allocator: context.channel.allocator,
                                                     staleOnError: storage.staleAllowed ? cache.staleOnError : 0)
        case .bypass:
            break
        }
    }

    /// An expired stored answer that may stand in for the upstream's failure (`stale_on_error`).
    func staleAnswer(for exchange: Exchange) -> CachedResponse? {
        // Only for a plain lookup: a client that asked for a fresh answer (`no-cache`,
        // `max-age=0`) gets the error rather than an old copy.
        guard let cache = exchange.route?.cache, cache.staleOnError > 0, let key = exchange.cacheKey,
              exchange.cacheUse == .lookup, !exchange.responseStarted, !exchange.answeredFromCache else { return nil }
        return cache.store.lookup(key, requestHeaders: exchange.head.headers,
                                  hasCredentials: CachePolicy.hasCredentials(exchange.head.headers), now: .now(), stale: true)
    }

    /// Answers with `stale` instead of the upstream's error, marked `X-Cache: STALE`.
    func serveStale(_ stale: CachedResponse, to exchange: Exchange) {
        logger.warning("upstream failed; answering from the cache", metadata: [
            "uri": "\(exchange.head.uri)", "upstream": "\(exchange.upstreamAddress.map(String.init(describing:)) ?? "-")",
        ])
        exchange.cacheStatus = "STALE"
        // Already counted as a miss; this counts how many misses an old copy rescued.
        metrics.cacheStaleAnswer()
        replay(stale, to: exchange, now: .now())
    }

    /// A piece of the upstream's body, before compression.
    func cacheResponseBody(_ exchange: Exchange, _ buffer: ByteBuffer) {
        if let recording = exchange.cacheRecording, !recording.append(buffer) {
            exchange.cacheRecording = nil
        }
    }

    /// The upstream's response ended whole: keep the copy.
    func cacheResponseEnded(_ exchange: Exchange) {
        guard let recording = exchange.cacheRecording, let cache = exchange.route?.cache else { return }
        exchange.cacheRecording = nil
        cache.store.store(recording.response(storedAt: .now(), receivedAt: time(nil)), under: recording.key,
                          fetchedSince: exchange.cacheEpoch)
        metrics.cacheStored()
    }
}
