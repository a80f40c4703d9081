import NIOCore
import NIOHTTP1

/// One upstream response kept by the cache: its head as the upstream sent it, its whole body,
/// when it stops being fresh, and the request header values it was chosen by (`Vary`).
struct CachedResponse: Sendable {
    let head: HTTPResponseHead
    let body: ByteBuffer
    /// Monotonic time it was stored, for `Age`.
    let storedAt: NIODeadline
    /// The upstream's own `Age` when it arrived, in seconds.
    let initialAge: Int
    /// Seconds it stays fresh, counted from when the upstream made it (its age 0).
    let lifetime: Int
    /// Request header names (lowercased) of the upstream's `Vary`, with the values they had.
    let variance: [(name: String, value: String?)]
    /// Stored for a request without credentials only (no `public` or `s-maxage`).
    let sharedWithCredentials: Bool
    /// Seconds after expiry it may still answer when the upstream fails.
    var staleOnError: Int = 0
    /// Bytes it holds, for the cache's memory budget.
    let size: Int

    /// Its age now, in seconds (RFC 9111 §4.2.3, with the upstream on the same machine or near).
    func age(now: NIODeadline) -> Int {
        initialAge + Int((now - storedAt).nanoseconds / 1_000_000_000)
    }

    func isFresh(now: NIODeadline) -> Bool {
        age(now: now) < lifetime
    }

    /// Still worth keeping: fresh, or stale within the time it may answer for a failing upstream.
    func isUsableOnError(now: NIODeadline) -> Bool {
        age(now: now) < lifetime + staleOnError
    }

    /// True when `headers` (a request's) agree with the values this response was chosen by.
    func matches(_ headers: HTTPHeaders) -> Bool {
        variance.allSatisfy { CachedResponse.varyValue(headers, $0.name) == $0.value }
    }

    /// A request header's value as `Vary` compares it: every field of that name joined, or nil.
    static func varyValue(_ headers: HTTPHeaders, _ name: String) -> String? {
        let values = headers[canonicalForm: name]
        return values.isEmpty ? nil : values.joined(separator: ",")
    }
}
