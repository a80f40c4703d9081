public import Foundation
public import Logging
public import PortalCore
public import PortalData

/// What the routes share: the database and the settings that shape sessions.
public struct AppServices: Sendable {
    public let database: PortalDatabase
    public let settings: AppSettings
    public let logger: Logger
    /// Signs CSRF tokens (the generated `session` secret).
    var csrf: CSRFTokens { csrfTokens }
    private let csrfTokens: CSRFTokens
    /// Failed sign-ins per client address and per account.
    let loginLimiter = LoginRateLimiter()

    /// `secret` is the app's `session` secret (at least 32 random bytes).
    public init(database: PortalDatabase, settings: AppSettings, logger: Logger, secret: Data) {
        self.database = database
        self.settings = settings
        self.logger = logger
        self.csrfTokens = CSRFTokens(secret: secret)
    }

    func sessions() throws -> SessionStore {
        SessionStore(database: try database.database(),
                     idleTimeout: TimeInterval(settings.sessionIdleMinutes * 60),
                     lifetime: TimeInterval(settings.sessionLifetimeHours * 3600))
    }

    func accounts() throws -> AccountStore {
        AccountStore(database: try database.database())
    }

    func audit() throws -> AuditLog {
        AuditLog(database: try database.database())
    }

    func tasks() throws -> TaskStore {
        TaskStore(database: try database.database())
    }

    func companies() throws -> CompanyStore {
        CompanyStore(database: try database.database())
    }

    func tokens() throws -> APITokenStore {
        APITokenStore(database: try database.database())
    }
}
