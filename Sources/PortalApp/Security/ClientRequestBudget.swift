import Foundation
import Synchronization

/// Requests each client address may make: a token bucket per address holding up to one
/// minute's allowance and refilled evenly, so short bursts (a page and its assets) pass while a
/// sustained flood is held to `perMinute`. A pure value with the clock passed in.
struct ClientRequestBudget {
    struct Bucket {
        var tokens: Double
        var updated: Date
    }

    let perMinute: Int
    /// Addresses tracked at most; full buckets are dropped first when the table is full.
    static let capacity = 50_000
    private(set) var buckets: [String: Bucket] = [:]

    init(perMinute: Int) {
        self.perMinute = perMinute
    }

    /// Takes one request from `client`'s allowance: nil when it may go ahead, otherwise the
    /// seconds until the next request would be allowed.
    mutating func take(_ client: String, now: Date) -> TimeInterval? {
        let size = Double(perMinute), perSecond = Double(perMinute) / 60
        if buckets[client] == nil, buckets.count >= Self.capacity { purge(now: now) }
        var bucket = buckets[client] ?? Bucket(tokens: size, updated: now)
        let elapsed = max(0, now.timeIntervalSince(bucket.updated))
        bucket.tokens = min(size, bucket.tokens + elapsed * perSecond)
        bucket.updated = now
        defer { buckets[client] = bucket }
        guard bucket.tokens >= 1 else { return (1 - bucket.tokens) / perSecond }
        bucket.tokens -= 1
        return nil
    }

    /// Drops the addresses whose allowance has refilled; if every one is still busy, starts over.
    mutating func purge(now: Date) {
        let perSecond = Double(perMinute) / 60, size = Double(perMinute)
        buckets = buckets.filter { _, bucket in
            bucket.tokens + max(0, now.timeIntervalSince(bucket.updated)) * perSecond < size
        }
        if buckets.count >= Self.capacity { buckets.removeAll() }
    }
}

/// The app process's per-client ceiling (`app.requests_per_minute_per_client`).
final class ClientRateLimiter: Sendable {
    private let budget: Mutex<ClientRequestBudget>

    init(perMinute: Int) {
        budget = Mutex(ClientRequestBudget(perMinute: perMinute))
    }

    func take(_ client: String, now: Date = Date()) -> TimeInterval? {
        budget.withLock { $0.take(client, now: now) }
    }
}
