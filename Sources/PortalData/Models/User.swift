import FluentKit
import Foundation

/// A person who signs in to the portal.
///
/// `@unchecked Sendable` because Fluent models are mutable classes: a `User` instance is only
/// used inside the one request or command that loaded it; everything shared across tasks is a
/// `UserAccount` value.
final class User: Model, @unchecked Sendable {
    static let schema = "users"

    @ID(custom: "id", generatedBy: .database) var id: Int?
    @Field(key: "email") var email: String
    @Field(key: "name") var name: String
    @Field(key: "password_hash") var passwordHash: String
    @Field(key: "role") var role: String
    @Field(key: "active") var active: Bool
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    init(email: String, name: String, passwordHash: String, role: Role, active: Bool = true) {
        self.email = email
        self.name = name
        self.passwordHash = passwordHash
        self.role = role.rawValue
        self.active = active
    }

    var account: UserAccount? {
        guard let id, let role = Role(rawValue: role) else { return nil }
        return UserAccount(id: id, email: email, name: name, role: role, active: active)
    }
}

/// What the rest of the system knows about a user: a plain value, safe to pass between tasks.
public struct UserAccount: Sendable, Equatable {
    public let id: Int
    public let email: String
    public let name: String
    public let role: Role
    public let active: Bool
}

/// What a user may do: `colaborador` (staff), `gestor` (manager), `admin`.
public enum Role: String, Sendable, CaseIterable {
    case admin
    case gestor
    case colaborador
}
