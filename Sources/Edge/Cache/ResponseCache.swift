import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Upstream responses kept in memory for the routes that cache, shared by every event loop.
/// Entries are found by key (scheme, host, site and target) and then by their `Vary` values;
/// when the memory budget is spent the least recently used ones leave first.
final class ResponseCache: Sendable {
    /// Most variants (`Vary`) kept for one key; the oldest is dropped for a new one.
    static let maxVariants = 8
    /// Bookkeeping bytes counted per entry besides its head and body.
    static let entryOverhead = 256

    let capacity: Int
    private let state: NIOLockedValueBox<State>

    private struct Slot {
        var variants: [CachedResponse]
        var lastUsed: UInt64
        var size: Int
    }

    private struct State {
        var slots: [String: Slot] = [:]
        var bytes = 0
        var clock: UInt64 = 0
        /// When each recently invalidated key was invalidated (on `clock`), so an answer fetched
        /// before that is not stored after it. Bounded: when it grows past `maxRemembered` it is
        /// emptied and `resets` counts up, which refuses every answer fetched before the reset.
        var invalidatedAt: [String: UInt64] = [:]
        var resets: UInt64 = 0
    }

    /// What the cache holds now, for the status page and the metrics.
    struct Usage: Equatable {
        let entries: Int
        let bytes: Int
    }

    init(capacity: Int) {
        self.capacity = capacity
        self.state = NIOLockedValueBox(State())
    }

    /// The fresh response stored under `key` that suits a request with these headers, if any;
    /// with `stale`, one that has expired but may still answer for a failing upstream.
    /// Variants past any use are dropped on the way.
    func lookup(_ key: String, requestHeaders: HTTPHeaders, hasCredentials: Bool, now: NIODeadline,
                stale: Bool = false) -> CachedResponse? {
        state.withLockedValue { state in
            guard var slot = state.slots[key] else { return nil }
            let before = slot.variants.count
            slot.variants.removeAll { !$0.isUsableOnError(now: now) }
            if slot.variants.count != before {
                let size = slot.variants.reduce(0) { $0 + $1.size }
                state.bytes -= slot.size - size
                slot.size = size
            }
            if slot.variants.isEmpty {
                state.slots[key] = nil
                return nil
            }
            state.clock += 1
            slot.lastUsed = state.clock
            state.slots[key] = slot
            return slot.variants.first {
                (stale || $0.isFresh(now: now)) && $0.matches(requestHeaders) && (!hasCredentials || $0.sharedWithCredentials)
            }
        }
    }

    /// Keeps `response` under `key`, replacing a variant chosen by the same values; makes room
    /// by dropping the least recently used keys. `epoch` is what `fetchStarted` gave when the answer
    /// was requested.
    func store(_ response: CachedResponse, under key: String, fetchedSince epoch: Epoch? = nil) {
        guard response.size <= capacity else { return }
        state.withLockedValue { state in
            // The target was invalidated while this answer was on its way: it may be the old
            // version of what changed, so it is not kept (the next request fetches again).
            if let epoch {
                if epoch.resets != state.resets { return }
                if let invalidated = state.invalidatedAt[key], invalidated >= epoch.clock { return }
            }
            state.clock += 1
            var slot = state.slots[key] ?? Slot(variants: [], lastUsed: state.clock, size: 0)
            slot.variants.removeAll { existing in
                existing.variance.count == response.variance.count
                    && zip(existing.variance, response.variance).allSatisfy { $0.name == $1.name && $0.value == $1.value }
            }
            if slot.variants.count >= Self.maxVariants { slot.variants.removeFirst() }
            slot.variants.append(response)
            // One target's variants together stay within the budget too: the oldest leave first.
            while slot.variants.count > 1, slot.variants.reduce(0, { $0 + $1.size }) > capacity {
                slot.variants.removeFirst()
            }
            let size = slot.variants.reduce(0) { $0 + $1.size }
            state.bytes += size - slot.size
            slot.size = size
            slot.lastUsed = state.clock
            state.slots[key] = slot
            if state.bytes > capacity { Self.evict(&state, downTo: capacity - capacity / 10, keeping: key) }
        }
    }

    /// Forgets every variant under `key` (after a successful unsafe request to it, RFC 9111 §4.4).
    func invalidate(_ key: String) {
        state.withLockedValue { state in
            state.clock += 1
            if state.invalidatedAt.count >= Self.maxRemembered {
                state.invalidatedAt.removeAll(keepingCapacity: true)
                state.resets += 1
            }
            state.invalidatedAt[key] = state.clock
            if let slot = state.slots.removeValue(forKey: key) { state.bytes -= slot.size }
        }
    }

    /// Invalidated keys remembered for answers still on their way.
    static let maxRemembered = 4_096

    /// A moment in the cache's history, taken when a request goes to the upstream and given back
    /// to `store`.
    struct Epoch: Equatable {
        let resets: UInt64
        let clock: UInt64
    }

    /// Marks the start of an upstream fetch whose answer may be stored.
    func fetchStarted() -> Epoch {
        state.withLockedValue { state in
            state.clock += 1
            return Epoch(resets: state.resets, clock: state.clock)
        }
    }

    var usage: Usage {
        state.withLockedValue { Usage(entries: $0.slots.values.reduce(0) { $0 + $1.variants.count }, bytes: $0.bytes) }
    }

    /// Drops the least recently used keys until at most `target` bytes remain. Done in one
    /// sorted pass, so the cost is paid once per tenth of the budget, not per store.
    private static func evict(_ state: inout State, downTo target: Int, keeping protected: String) {
        let byAge = state.slots.map { (key: $0.key, lastUsed: $0.value.lastUsed) }.sorted { $0.lastUsed < $1.lastUsed }
        for candidate in byAge where state.bytes > target && candidate.key != protected {
            if let slot = state.slots.removeValue(forKey: candidate.key) { state.bytes -= slot.size }
        }
    }
}
