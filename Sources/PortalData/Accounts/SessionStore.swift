import Crypto
public import FluentKit
public import Foundation
import PortalCore

/// Browser sessions kept in the database, so any app instance can serve any user.
public struct SessionStore: Sendable {
    private let database: any Database
    private let idleTimeout: TimeInterval
    private let lifetime: TimeInterval

    public init(database: any Database, idleTimeout: TimeInterval, lifetime: TimeInterval) {
        self.database = database
        self.idleTimeout = idleTimeout
        self.lifetime = lifetime
    }

    /// Starts a session and returns the token for the cookie (256 random bits, base64url).
    public func create(userID: Int, clientIP: String, userAgent: String, now: Date = Date()) async throws -> String {
        let token = RandomToken.make(bytes: 32)
        let session = UserSession(tokenHash: Self.hash(token), userID: userID, now: now,
                                  expiresAt: now.addingTimeInterval(lifetime), clientIP: clientIP,
                                  userAgent: userAgent)
        try await session.create(on: database)
        return token
    }

    /// The active user of a live session, refreshing its last-seen time; nil when the token is
    /// unknown, idle too long, past its lifetime, or its user is deactivated.
    public func user(forToken token: String, now: Date = Date()) async throws -> UserAccount? {
        guard token.count <= 128, let session = try await UserSession.find(Self.hash(token), on: database) else {
            return nil
        }
        if now >= session.expiresAt || now.timeIntervalSince(session.lastSeenAt) >= idleTimeout {
            try await session.delete(on: database)
            return nil
        }
        guard let user = try await User.find(session.$user.id, on: database), user.active,
              let account = user.account
        else {
            try await session.delete(on: database)
            return nil
        }
        if now.timeIntervalSince(session.lastSeenAt) >= 60 {
            session.lastSeenAt = now
            try await session.update(on: database)
        }
        return account
    }

    /// Ends the session holding `token` (logout).
    public func delete(token: String) async throws {
        try await UserSession.query(on: database).filter(\.$id == Self.hash(token)).delete()
    }

    /// The live sessions of `userID`, newest activity first; `current` marks the one whose token
    /// the caller holds. Ids are token hashes, which cannot be turned back into a cookie.
    public func sessions(ofUser userID: Int, currentToken: String?, now: Date = Date()) async throws -> [SessionSummary] {
        let currentID = currentToken.map(Self.hash)
        return try await UserSession.query(on: database)
            .filter(\.$user.$id == userID)
            .filter(\.$expiresAt > now)
            .filter(\.$lastSeenAt > now.addingTimeInterval(-idleTimeout))
            .sort(\.$lastSeenAt, .descending)
            .all()
            .compactMap { session in
                guard let id = session.id else { return nil }
                return SessionSummary(id: id, createdAt: session.createdAt, lastSeenAt: session.lastSeenAt,
                                      clientIP: session.clientIP, userAgent: session.userAgent,
                                      isCurrent: id == currentID)
            }
    }

    /// Ends one session of `userID` by its id; false when `userID` has no such session (another
    /// user's id changes nothing).
    public func revoke(sessionID: String, ofUser userID: Int) async throws -> Bool {
        guard sessionID.count == 64,
              let session = try await UserSession.query(on: database)
                .filter(\.$id == sessionID).filter(\.$user.$id == userID).first()
        else { return false }
        try await session.delete(on: database)
        return true
    }

    /// Ends every session of `userID` except the one holding `token`; returns how many ended.
    @discardableResult
    public func revokeOthers(ofUser userID: Int, keeping token: String) async throws -> Int {
        let others = try await UserSession.query(on: database)
            .filter(\.$user.$id == userID).filter(\.$id != Self.hash(token)).all()
        for session in others { try await session.delete(on: database) }
        return others.count
    }

    /// The id under which the session of `token` is stored (its SHA-256, hex).
    public static func hash(_ token: String) -> String {
        HexDigest.string(SHA256.hash(data: Data(token.utf8)))
    }
}
