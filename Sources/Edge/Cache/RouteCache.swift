/// A route's cache settings, resolved: the edge's shared store and the route's own limits.
struct RouteCache: Sendable {
    let store: ResponseCache
    /// Larger responses pass through without being kept.
    let maxEntryBytes: Int
    /// Lifetime in seconds of a storable response that states none; 0: such responses are not kept.
    let defaultTTL: Int
    /// Seconds after expiry a stored response may still answer when the upstream fails.
    var staleOnError: Int = 0
}
