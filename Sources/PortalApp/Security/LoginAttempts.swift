import Foundation
import Synchronization

/// Failed sign-ins per key (a client address or an account), as Flask-Limiter did for the seed:
/// `maxFailures` failures within a minute lock the key for a minute, each later lockout twice as
/// long (up to an hour). Attempts still being checked count too, so parallel requests cannot
/// slip past the limit while bcrypt runs. A pure value with the clock passed in.
struct LoginAttempts {
    struct Entry {
        var failures: [Date] = []
        var lockedUntil: Date?
        var lockouts = 0
        var inFlight = 0
    }

    let maxFailures: Int
    static let window: TimeInterval = 60
    static let firstLockout: TimeInterval = 60
    static let longestLockout: TimeInterval = 3600
    /// Seconds a client is asked to wait when its allowance is taken by attempts in flight.
    static let inFlightWait: TimeInterval = 1
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

    /// Starts an attempt: nil when it may go ahead (and is then counted until `finish`), else the
    /// seconds to wait.
    mutating func begin(_ key: String, now: Date) -> TimeInterval? {
        if let wait = retryAfter(key, now: now) { return wait }
        if entries[key] == nil, entries.count >= Self.capacity { purge(now: now) }
        var entry = entries[key, default: Entry()]
        entry.failures = entry.failures.filter { now.timeIntervalSince($0) < Self.window }
        guard entry.failures.count + entry.inFlight < maxFailures else { return Self.inFlightWait }
        entry.inFlight += 1
        entries[key] = entry
        return nil
    }

    /// Ends an attempt begun with `begin`. A failure may start a lockout (returns its length); a
    /// success clears the key's failures when `clearOnSuccess`.
    @discardableResult
    mutating func finish(_ key: String, succeeded: Bool, clearOnSuccess: Bool, now: Date) -> TimeInterval? {
        var entry = entries[key, default: Entry()]
        entry.inFlight = max(0, entry.inFlight - 1)
        defer { entries[key] = entry }
        if succeeded {
            if clearOnSuccess { entry = Entry(inFlight: entry.inFlight) }
            return nil
        }
        entry.failures = entry.failures.filter { now.timeIntervalSince($0) < Self.window } + [now]
        guard entry.failures.count >= maxFailures else { return nil }
        let length = min(Self.firstLockout * pow(2, Double(min(entry.lockouts, 16))), Self.longestLockout)
        entry.lockedUntil = now.addingTimeInterval(length)
        entry.lockouts += 1
        entry.failures = []
        return length
    }

    /// Drops keys with nothing in force; when the table is still full, forgets failure counts
    /// and lockout history of unlocked keys, but never a lockout in force.
    mutating func purge(now: Date) {
        func locked(_ entry: Entry) -> Bool { entry.lockedUntil.map { $0 > now } ?? false }
        entries = entries.filter { _, entry in
            locked(entry) || entry.inFlight > 0 || entry.failures.contains { now.timeIntervalSince($0) < Self.window }
        }
        if entries.count >= Self.capacity {
            entries = entries.filter { _, entry in locked(entry) || entry.inFlight > 0 }
        }
    }
}

/// The app instance's login limiter: five failures a minute per account, twenty per client
/// address (several clerks behind one NAT address must not lock each other out after a few
/// typos). Counters live in this process: with several app instances each counts on its own.
final class LoginRateLimiter: Sendable {
    static let accountFailures = 5
    static let addressFailures = 20

    /// The time source: the wall clock, or a fixed one in tests where twenty bcrypt checks may
    /// outlast the one-minute window on a loaded machine.
    private let clock: @Sendable () -> Date

    init(clock: @escaping @Sendable () -> Date = Date.init) {
        self.clock = clock
    }

    private let accounts = Mutex(LoginAttempts(maxFailures: LoginRateLimiter.accountFailures))
    private let addresses = Mutex(LoginAttempts(maxFailures: LoginRateLimiter.addressFailures))

    /// Starts an attempt for `account` from `address`: nil when it may go ahead (then `finish`
    /// must follow), otherwise the seconds to wait.
    func begin(address: String, account: String) -> TimeInterval? {
        let now = clock()
        if let wait = accounts.withLock({ $0.begin(account, now: now) }) { return wait }
        if let wait = addresses.withLock({ $0.begin(address, now: now) }) {
            accounts.withLock { _ = $0.finish(account, succeeded: true, clearOnSuccess: false, now: now) }
            return wait
        }
        return nil
    }

    /// Ends an attempt that could not be checked (the database failed): counted neither way.
    func cancel(address: String, account: String) {
        let now = clock()
        accounts.withLock { _ = $0.finish(account, succeeded: true, clearOnSuccess: false, now: now) }
        addresses.withLock { _ = $0.finish(address, succeeded: true, clearOnSuccess: false, now: now) }
    }

    /// Ends an attempt. A success clears the account only: signing in to one's own account must
    /// not reset the address's count of failures against other accounts. Returns the length of
    /// a lockout this failure started, if any.
    @discardableResult
    func finish(address: String, account: String, succeeded: Bool) -> TimeInterval? {
        let now = clock()
        let byAccount = accounts.withLock { $0.finish(account, succeeded: succeeded, clearOnSuccess: true, now: now) }
        let byAddress = addresses.withLock { $0.finish(address, succeeded: succeeded, clearOnSuccess: false, now: now) }
        return [byAccount, byAddress].compactMap { $0 }.max()
    }
}
