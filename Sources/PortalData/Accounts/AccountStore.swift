public import FluentKit
import Foundation
import SQLKit

/// Users: creation, sign-in checks and the first administrator.
public struct AccountStore: Sendable {
    private let database: any Database

    public init(database: any Database) {
        self.database = database
    }

    /// Creates a user; fails with a clear message when the e-mail is taken or invalid.
    @discardableResult
    public func createUser(email: String, name: String, password: String, role: Role) async throws -> UserAccount {
        let normalized = email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard EmailAddress.isPlausible(normalized) else {
            throw AccountError("'\(email)' is not a valid e-mail address")
        }
        if try await User.query(on: database).filter(\.$email == normalized).first() != nil {
            throw AccountError("a user with e-mail \(normalized) already exists")
        }
        let trimmedName = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmedName.isEmpty, trimmedName.count <= 120 else {
            throw AccountError("the name must have from 1 to 120 characters")
        }
        if let problem = PasswordPolicy.problem(with: password, email: normalized) { throw AccountError(problem) }
        let user = User(email: normalized, name: trimmedName, passwordHash: try await PasswordHasher.hash(password), role: role)
        try await user.create(on: database)
        guard let account = user.account else { throw AccountError("the new user has no id") }
        return account
    }

    /// The active user with this e-mail and password, or nil. Unknown e-mail and wrong password
    /// cost the same bcrypt check, so timing does not tell them apart.
    public func authenticate(email: String, password: String) async throws -> UserAccount? {
        let normalized = email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let user = try await User.query(on: database).filter(\.$email == normalized).first()
        guard let user else {
            try await PasswordHasher.verifyDecoy(password)
            return nil
        }
        let matches = try await PasswordHasher.verify(password, hash: user.passwordHash)
        guard matches, user.active else { return nil }
        return user.account
    }

    /// The user with `id`, active or not.
    public func user(id: Int) async throws -> UserAccount? {
        try await User.find(id, on: database)?.account
    }

    /// The user with this e-mail (any case), active or not.
    public func user(email: String) async throws -> UserAccount? {
        try await record(email: email)?.account
    }

    /// Every user, by e-mail.
    public func users() async throws -> [UserAccount] {
        try await User.query(on: database).sort(\.$email).all().compactMap(\.account)
    }

    /// Deactivates (no sign-in, every session ended, every API token revoked) or reactivates the user with `email`;
    /// refuses to deactivate the last active admin.
    @discardableResult
    public func setActive(_ active: Bool, email: String) async throws -> UserAccount {
        try await database.transaction { database in
            try await AccountStore(database: database).setActiveInTransaction(active, email: email)
        }
    }

    private func setActiveInTransaction(_ active: Bool, email: String) async throws -> UserAccount {
        let user = try await existing(email: email)
        if !active { try await ensureAnotherAdmin(besides: user) }
        user.active = active
        try await user.save(on: database)
        if !active { try await endAccess(of: user) }
        return try account(of: user)
    }

    /// Replaces the password (checked against `PasswordPolicy`), ends every session and revokes
    /// every API token (a token made by whoever knew the old password must not outlive it).
    @discardableResult
    public func setPassword(_ password: String, email: String) async throws -> UserAccount {
        let user = try await existing(email: email)
        if let problem = PasswordPolicy.problem(with: password, email: user.email) { throw AccountError(problem) }
        user.passwordHash = try await PasswordHasher.hash(password)
        try await user.save(on: database)
        try await endAccess(of: user)
        return try account(of: user)
    }

    /// Changes the role; refuses to take the last active admin's role away.
    @discardableResult
    public func setRole(_ role: Role, email: String) async throws -> UserAccount {
        try await database.transaction { database in
            try await AccountStore(database: database).setRoleInTransaction(role, email: email)
        }
    }

    private func setRoleInTransaction(_ role: Role, email: String) async throws -> UserAccount {
        let user = try await existing(email: email)
        if role != .admin { try await ensureAnotherAdmin(besides: user) }
        user.role = role.rawValue
        try await user.save(on: database)
        return try account(of: user)
    }

    /// Throws when `user` is the only active admin (the portal would have nobody to manage it).
    /// Runs inside the change's transaction; on PostgreSQL and MariaDB the admins' rows are locked first, so
    /// two admins demoting each other at the same moment cannot both pass the check.
    private func ensureAnotherAdmin(besides user: User) async throws {
        guard user.role == Role.admin.rawValue, user.active else { return }
        let admins: Int
        if let sql = database as? any SQLDatabase, ["postgresql", "mysql"].contains(sql.dialect.name) {
            // A locking read: it waits for a concurrent change to the admins and sees its result
            // (a plain count would read MariaDB's older snapshot).
            admins = try await sql.raw("SELECT id FROM users WHERE role = \(bind: Role.admin.rawValue) AND active = true FOR UPDATE")
                .all().count
        } else {
            admins = try await User.query(on: database)
                .filter(\.$role == Role.admin.rawValue).filter(\.$active == true).count()
        }
        if admins <= 1 { throw AccountError("\(user.email) is the only active admin; make another user admin first") }
    }

    private func record(email: String) async throws -> User? {
        let normalized = email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        return try await User.query(on: database).filter(\.$email == normalized).first()
    }

    private func existing(email: String) async throws -> User {
        guard let user = try await record(email: email) else { throw AccountError("no user has the e-mail \(email)") }
        return user
    }

    private func account(of user: User) throws -> UserAccount {
        guard let account = user.account else { throw AccountError("user \(user.email) has an unknown role '\(user.role)'") }
        return account
    }

    private func endSessions(of user: User) async throws {
        guard let id = user.id else { return }
        try await UserSession.query(on: database).filter(\.$user.$id == id).delete()
    }

    /// Deactivation and a new password end all access: sessions go, and every live token is revoked.
    private func endAccess(of user: User) async throws {
        try await endSessions(of: user)
        guard let id = user.id else { return }
        try await APITokenStore(database: database).revokeAll(ofUser: id)
    }

    public func userCount() async throws -> Int {
        try await User.query(on: database).count()
    }

    /// On a database with no users: creates `admin@portal.local` with a random password and a
    /// first task, and returns the credentials to show once. Nil when users already exist.
    public func bootstrapAdministratorIfNeeded() async throws -> (email: String, password: String)? {
        guard try await userCount() == 0 else { return nil }
        let email = "admin@portal.local"
        let password = PasswordGenerator.make()
        let admin = try await createUser(email: email, name: "Administrador", password: password, role: .admin)
        try await TaskStore(database: database).create(
            title: "Bem-vindo ao Portal: troque a senha do administrador",
            details: "Esta tarefa foi criada na primeira inicialização.",
            status: .pending, dueDate: nil, assigneeID: admin.id)
        return (email, password)
    }
}

/// A user operation that cannot be done; the message says why.
public struct AccountError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) {
        self.description = description
    }
}

/// A light check of e-mail syntax: one `@`, a non-empty local part, a dotted domain, no spaces.
public enum EmailAddress {
    public static func isPlausible(_ value: String) -> Bool {
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), value.count <= 254 else { return false }
        return !value.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" || $0 == "\"" })
            && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".")
    }
}

/// Random passwords shown once to the user: 20 characters without look-alikes (0/O, 1/l/I).
public enum PasswordGenerator {
    static let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")

    public static func make(length: Int = 20) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }
}
