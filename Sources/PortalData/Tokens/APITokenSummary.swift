public import Foundation

/// What a personal API token allows: reading, or reading and changing.
public enum APIScope: String, Sendable, CaseIterable {
    case read
    case readWrite = "read,write"

    /// True when the token may change data (POST, PATCH, DELETE).
    public var canWrite: Bool { self == .readWrite }

    /// The label users see.
    public var label: String {
        switch self {
        case .read: "Somente leitura"
        case .readWrite: "Leitura e escrita"
        }
    }
}

/// A personal API token as its owner sees it: never the token itself.
public struct APITokenSummary: Sendable, Equatable {
    public let id: Int
    public let userID: Int
    public let name: String
    /// The first characters of the token, to tell tokens apart.
    public let prefix: String
    public let scope: APIScope
    public let createdAt: Date
    public let expiresAt: Date
    public let lastUsedAt: Date?
    public let revokedAt: Date?

    /// Usable at `now`: not revoked and not expired.
    public func isUsable(at now: Date = Date()) -> Bool {
        revokedAt == nil && now < expiresAt
    }
}
