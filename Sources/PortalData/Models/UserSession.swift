import FluentKit
import Foundation

/// A signed-in browser session. The row is keyed by the SHA-256 of the cookie value, so the
/// database never holds a usable session token.
///
/// `@unchecked Sendable`: used only inside the request that loaded it (see `User`).
final class UserSession: Model, @unchecked Sendable {
    static let schema = "sessions"

    @ID(custom: "id", generatedBy: .user) var id: String?
    @Parent(key: "user_id") var user: User
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "last_seen_at") var lastSeenAt: Date
    @Field(key: "expires_at") var expiresAt: Date
    @Field(key: "client_ip") var clientIP: String
    @Field(key: "user_agent") var userAgent: String

    init() {}

    init(tokenHash: String, userID: Int, now: Date, expiresAt: Date, clientIP: String, userAgent: String) {
        self.id = tokenHash
        self.$user.id = userID
        self.createdAt = now
        self.lastSeenAt = now
        self.expiresAt = expiresAt
        self.clientIP = clientIP
        self.userAgent = String(userAgent.prefix(255))
    }
}
