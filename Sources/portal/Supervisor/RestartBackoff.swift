/// How long to wait before restarting a child that died: 0.5 s, doubling up to 30 s, and back
/// to 0.5 s once the child has stayed up for a minute. A pure value with the clock passed in.
struct RestartBackoff: Equatable {
    static let initialDelay: Double = 0.5
    static let maximumDelay: Double = 30
    static let stableAfter: Double = 60

    private(set) var nextDelay: Double = RestartBackoff.initialDelay
    private(set) var restarts = 0

    /// Records an exit of a child started at `startedAt` and returns the delay before restarting it.
    mutating func delayAfterExit(startedAt: Double, now: Double) -> Double {
        if now - startedAt >= Self.stableAfter {
            nextDelay = Self.initialDelay
        }
        let delay = nextDelay
        nextDelay = min(nextDelay * 2, Self.maximumDelay)
        restarts += 1
        return delay
    }
}
