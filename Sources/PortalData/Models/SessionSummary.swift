public import Foundation

/// What a user sees of one of their sessions on the sessions page.
public struct SessionSummary: Sendable, Equatable {
    /// The session's id (the SHA-256 of its token), used to revoke it.
    public let id: String
    public let createdAt: Date
    public let lastSeenAt: Date
    public let clientIP: String
    public let userAgent: String
    /// True for the session of the request that asked.
    public let isCurrent: Bool
}
