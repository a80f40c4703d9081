import FluentKit
import Foundation

/// A personal API token. Only the SHA-256 of the token is stored; `prefix` (its first
/// characters) lets the owner recognise it in the list.
///
/// `@unchecked Sendable`: used only inside the request that loaded it (see `User`).
final class APITokenRecord: Model, @unchecked Sendable {
    static let schema = "api_tokens"

    @ID(custom: "id", generatedBy: .database) var id: Int?
    @Parent(key: "user_id") var user: User
    @Field(key: "name") var name: String
    @Field(key: "token_hash") var tokenHash: String
    @Field(key: "prefix") var prefix: String
    @Field(key: "scopes") var scopes: String
    @Field(key: "created_at") var createdAt: Date
    @Field(key: "expires_at") var expiresAt: Date
    @OptionalField(key: "last_used_at") var lastUsedAt: Date?
    @OptionalField(key: "revoked_at") var revokedAt: Date?

    init() {}

    init(userID: Int, name: String, tokenHash: String, prefix: String, scope: APIScope, createdAt: Date, expiresAt: Date) {
        self.$user.id = userID
        self.name = name
        self.tokenHash = tokenHash
        self.prefix = prefix
        self.scopes = scope.rawValue
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    var summary: APITokenSummary? {
        guard let id, let scope = APIScope(rawValue: scopes) else { return nil }
        return APITokenSummary(id: id, userID: $user.id, name: name, prefix: prefix, scope: scope,
                               createdAt: createdAt, expiresAt: expiresAt, lastUsedAt: lastUsedAt,
                               revokedAt: revokedAt)
    }
}
