public import FluentKit
import Foundation
import PortalCore

/// Personal API tokens: issued once in clear, stored hashed, checked on every `/api/v1` call.
public struct APITokenStore: Sendable {
    /// Every token starts with this, so leaked tokens are easy to search for in code and logs.
    public static let tokenPrefix = "ptl_"
    /// Longest lifetime a token may be given, in days.
    public static let maximumDays = 365
    /// Active tokens one user may hold.
    public static let maximumPerUser = 20

    private let database: any Database

    public init(database: any Database) {
        self.database = database
    }

    /// Issues a token for `userID` valid for `days`; returns the token (shown once) and its summary.
    public func create(userID: Int, name: String, scope: APIScope, days: Int, now: Date = Date())
        async throws -> (token: String, summary: APITokenSummary) {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.count <= 80 else {
            throw AccountError("the token name must have from 1 to 80 characters")
        }
        guard (1...Self.maximumDays).contains(days) else {
            throw AccountError("a token must expire in 1 to \(Self.maximumDays) days")
        }
        let active = try await APITokenRecord.query(on: database)
            .filter(\.$user.$id == userID).filter(\.$revokedAt == nil).filter(\.$expiresAt > now).count()
        guard active < Self.maximumPerUser else {
            throw AccountError("a user may hold at most \(Self.maximumPerUser) active tokens; revoke one first")
        }
        let secret = RandomToken.make(bytes: 32)
        let token = Self.tokenPrefix + secret
        let record = APITokenRecord(userID: userID, name: trimmed, tokenHash: Self.hash(token),
                                    prefix: String(token.prefix(Self.tokenPrefix.count + 6)), scope: scope,
                                    createdAt: now, expiresAt: now.addingTimeInterval(TimeInterval(days) * 86_400))
        try await record.create(on: database)
        guard let summary = record.summary else { throw AccountError("the new token has no id") }
        return (token, summary)
    }

    /// Every token of `userID`, newest first, revoked and expired ones included.
    public func tokens(ofUser userID: Int) async throws -> [APITokenSummary] {
        try await APITokenRecord.query(on: database).filter(\.$user.$id == userID)
            .sort(\.$id, .descending).all().compactMap(\.summary)
    }

    /// Revokes one of `userID`'s tokens; nil when `userID` has no such live token (another user's
    /// id changes nothing).
    public func revoke(tokenID: Int, ofUser userID: Int, now: Date = Date()) async throws -> APITokenSummary? {
        guard let record = try await APITokenRecord.query(on: database)
            .filter(\.$id == tokenID).filter(\.$user.$id == userID).filter(\.$revokedAt == nil).first()
        else { return nil }
        record.revokedAt = now
        try await record.update(on: database)
        return record.summary
    }

    /// Revokes every live token of `userID` (deactivation); returns how many.
    @discardableResult
    public func revokeAll(ofUser userID: Int, now: Date = Date()) async throws -> Int {
        let live = try await APITokenRecord.query(on: database)
            .filter(\.$user.$id == userID).filter(\.$revokedAt == nil).all()
        for record in live {
            record.revokedAt = now
            try await record.update(on: database)
        }
        return live.count
    }

    /// The active user and the token for a bearer value; nil when the token is unknown, revoked,
    /// expired, or its user is deactivated. Records the last use (at most once a minute).
    public func authenticate(_ token: String, now: Date = Date()) async throws -> (user: UserAccount, token: APITokenSummary)? {
        guard token.hasPrefix(Self.tokenPrefix), token.count <= 128,
              let record = try await APITokenRecord.query(on: database).filter(\.$tokenHash == Self.hash(token)).first(),
              record.revokedAt == nil, now < record.expiresAt,
              let user = try await User.find(record.$user.id, on: database), user.active,
              let account = user.account
        else { return nil }
        if record.lastUsedAt.map({ now.timeIntervalSince($0) >= 60 }) ?? true {
            record.lastUsedAt = now
            try await record.update(on: database)
        }
        guard let summary = record.summary else { return nil }
        return (account, summary)
    }

    /// Stored like session tokens: the SHA-256 of the secret, in hex.
    static func hash(_ token: String) -> String {
        SessionStore.hash(token)
    }
}

/// Random URL-safe strings for tokens and cookies.
enum RandomToken {
    /// `bytes` random bytes as unpadded base64url.
    static func make(bytes: Int) -> String {
        Base64URL.random(bytes: bytes)
    }
}
