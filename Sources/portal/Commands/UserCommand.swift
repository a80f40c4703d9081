import ArgumentParser
import Foundation
import Logging
import PortalCore
import PortalData

/// `portal user …`: manage accounts from the command line, on the same data as `portal up`.
/// Every change is written to the audit log.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Create, list, deactivate and change users.",
        subcommands: [
            UserCreateCommand.self, UserListCommand.self, UserDeactivateCommand.self, UserActivateCommand.self,
            UserResetPasswordCommand.self, UserSetRoleCommand.self,
        ])

    /// Where a change made from the command line is recorded as coming from.
    static let origin = "local (portal user)"

    /// Opens the configured database, migrated, runs `body`, and closes it; any failure becomes
    /// one line naming what went wrong.
    static func withAccounts<T>(_ options: ConfigurationOptions,
                                _ body: (AccountStore, AuditLog) async throws -> T) async throws -> T {
        let configuration: PortalConfiguration
        do {
            configuration = try options.load()
        } catch let error as ConfigurationError {
            for issue in error.issues { printError(issue.description) }
            throw ExitCode(1)
        }
        try prepareDataDirectory(configuration)
        let database = try await openDatabase(configuration, logger: commandLogger("portal.user"))
        do {
            let handle = try database.database()
            let result = try await body(AccountStore(database: handle), AuditLog(database: handle))
            await database.shutdown()
            return result
        } catch {
            await database.shutdown()
            if let failure = error as? CommandFailure { throw failure }
            throw CommandFailure("\(error)")
        }
    }
}

extension UserCommand {
    /// Deactivates or reactivates a user and records it in the audit log.
    static func setActive(_ active: Bool, email: String, options: ConfigurationOptions) async throws -> UserAccount {
        try await withAccounts(options) { accounts, audit in
            let user = try await accounts.setActive(active, email: email)
            try await audit.record(AuditEvent(kind: active ? .userActivated : .userDeactivated, userID: user.id,
                                              email: user.email, clientIP: origin))
            return user
        }
    }
}

/// A `--role` value, or a message naming the three roles.
func parseRole(_ value: String) throws -> Role {
    guard let role = Role(rawValue: value.lowercased()) else {
        throw ValidationError("--role must be admin, gestor or colaborador, got '\(value)'")
    }
    return role
}

struct UserCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a user. The password is asked twice on the terminal unless given another way.")

    @OptionGroup var options: ConfigurationOptions
    @Option(help: "E-mail address, used to sign in.") var email: String
    @Option(help: "Name shown in the portal.") var name: String
    @Option(help: "admin, gestor or colaborador.") var role: String
    @OptionGroup var passwordInput: PasswordInput

    func validate() throws {
        _ = try parseRole(role)
    }

    func run() async throws {
        let (password, generated) = try passwordInput.read()
        let user = try await UserCommand.withAccounts(options) { accounts, audit in
            let user = try await accounts.createUser(email: email, name: name, password: password, role: try parseRole(role))
            try await audit.record(AuditEvent(kind: .userCreated, userID: user.id, email: user.email,
                                              clientIP: UserCommand.origin, detail: "perfil \(user.role.rawValue)"))
            return user
        }
        print("created \(user.email) (\(user.role.rawValue))")
        if generated { print("password (shown only now): \(password)") }
    }
}

struct UserListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List every user.")

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        let users = try await UserCommand.withAccounts(options) { accounts, _ in try await accounts.users() }
        let width = max(5, users.map(\.email.count).max() ?? 0)
        print(Self.pad("EMAIL", width) + "  " + Self.pad("ROLE", 11) + "  STATE     NAME")
        for user in users {
            print(Self.pad(user.email, width) + "  " + Self.pad(user.role.rawValue, 11) + "  "
                + (user.active ? "active  " : "inactive") + "  " + user.name)
        }
    }

    /// `text` followed by spaces up to `width` characters (counted as people see them, so
    /// accented e-mails line up too).
    static func pad(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }
}

struct UserDeactivateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deactivate", abstract: "Stop a user from signing in and end their sessions.")

    @OptionGroup var options: ConfigurationOptions
    @Option(help: "E-mail of the user.") var email: String

    func run() async throws {
        let user = try await UserCommand.setActive(false, email: email, options: options)
        print("deactivated \(user.email); their sessions have ended")
    }
}

struct UserActivateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "activate", abstract: "Let a deactivated user sign in again.")

    @OptionGroup var options: ConfigurationOptions
    @Option(help: "E-mail of the user.") var email: String

    func run() async throws {
        let user = try await UserCommand.setActive(true, email: email, options: options)
        print("activated \(user.email)")
    }
}

struct UserResetPasswordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset-password", abstract: "Set a new password for a user and end their sessions.")

    @OptionGroup var options: ConfigurationOptions
    @Option(help: "E-mail of the user.") var email: String
    @OptionGroup var passwordInput: PasswordInput

    func run() async throws {
        let (password, generated) = try passwordInput.read()
        let user = try await UserCommand.withAccounts(options) { accounts, audit in
            let user = try await accounts.setPassword(password, email: email)
            try await audit.record(AuditEvent(kind: .passwordChanged, userID: user.id, email: user.email, clientIP: UserCommand.origin))
            return user
        }
        print("new password set for \(user.email); their sessions have ended")
        if generated { print("password (shown only now): \(password)") }
    }
}

struct UserSetRoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set-role", abstract: "Change a user's role.")

    @OptionGroup var options: ConfigurationOptions
    @Option(help: "E-mail of the user.") var email: String
    @Option(help: "admin, gestor or colaborador.") var role: String

    func validate() throws {
        _ = try parseRole(role)
    }

    func run() async throws {
        let (before, after) = try await UserCommand.withAccounts(options) { accounts, audit in
            guard let before = try await accounts.user(email: email) else { throw CommandFailure("no user has the e-mail \(email)") }
            let after = try await accounts.setRole(try parseRole(role), email: email)
            try await audit.record(AuditEvent(kind: .roleChanged, userID: after.id, email: after.email, clientIP: UserCommand.origin,
                                              detail: "\(before.role.rawValue) → \(after.role.rawValue)"))
            return (before, after)
        }
        print("\(after.email): \(before.role.rawValue) → \(after.role.rawValue)")
    }
}
