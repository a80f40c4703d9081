import Foundation
import Synchronization

/// Failed sign-ins per key (a client address or an account), as Flask-Limiter did for the seed:
/// `maxFailures` failures within a minute lock the key for a minute, each later lockout twice as
/// long (up to an hour); a success clears the key. A pure value with the clock passed in.
struct LoginAttempts {
    struct Entry {
        var failures: [Date] = []
        var lockedUntil: Date?
        var lockouts = 0
    }

    let maxFailures: Int
    static let window: TimeInterval = 60
    static let firstLockout: TimeInterval = 60
    static let longestLockout: TimeInterval = 3600
    static let capacity = 10_000

    private(set) var entries: [String: Entry] = [:]

    init(maxFailures: Int) {
        self.maxFailures = maxFailures
    }

    /// Seconds the key must wait, or nil when it may try now.
    func retryAfter(_ key: String, now: Date) -> TimeInterval? {
        guard let until = entries[key]?.lockedUntil, until > now else { return nil }
        return until.timeIntervalSince(now)
    }

    mutating func recordFailure(_ key: String, now: Date) {
        if entries.count >= Self.capacity { purge(now: now) }
        var entry = entries[key, default: Entry()]
        entry.failures = entry.failures.filter { now.timeIntervalSince($0) < Self.window } + [now]
        if entry.failures.count >= maxFailures {
            let length = min(Self.firstLockout * pow(2, Double(entry.lockouts)), Self.longestLockout)
            entry.lockedUntil = now.addingTimeInterval(length)
            entry.lockouts += 1
            entry.failures = []
        }
        entries[key] = entry
    }

    mutating func recordSuccess(_ key: String) {
        entries[key] = nil
    }

    /// Drops keys with no recent failure and no lockout in force.
    mutating func purge(now: Date) {
        entries = entries.filter { _, entry in
            (entry.lockedUntil.map { $0 > now } ?? false)
                || entry.failures.contains { now.timeIntervalSince($0) < Self.window }
        }
        if entries.count >= Self.capacity { entries.removeAll() }
    }
}

/// The app instance's login limiter: five failures a minute per account, twenty per client
/// address (several clerks behind one NAT address must not lock each other out after a few
/// typos). Counters live in this process: with several app instances each counts on its own.
final class LoginRateLimiter: Sendable {
    static let accountFailures = 5
    static let addressFailures = 20

    private let accounts = Mutex(LoginAttempts(maxFailures: LoginRateLimiter.accountFailures))
    private let addresses = Mutex(LoginAttempts(maxFailures: LoginRateLimiter.addressFailures))

    /// Seconds to wait before `account` may try again from `address`, or nil.
    func retryAfter(address: String, account: String, now: Date = Date()) -> TimeInterval? {
        let byAccount = accounts.withLock { $0.retryAfter(account, now: now) }
        let byAddress = addresses.withLock { $0.retryAfter(address, now: now) }
        return [byAccount, byAddress].compactMap { $0 }.max()
    }

    func recordFailure(address: String, account: String, now: Date = Date()) {
        accounts.withLock { $0.recordFailure(account, now: now) }
        addresses.withLock { $0.recordFailure(address, now: now) }
    }

    /// Clears the account only: signing in to one's own account must not reset the address's
    /// count of failures against other accounts.
    func recordSuccess(account: String) {
        accounts.withLock { $0.recordSuccess(account) }
    }
}
