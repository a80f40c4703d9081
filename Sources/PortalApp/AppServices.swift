public import Foundation
import Crypto
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
    var loginLimiter = LoginRateLimiter()
    /// Sign-in with Google; nil unless `app.google.client_id` and its secret are set.
    let google: OpenIDClient?
    /// Seals the OpenID flow cookie.
    let signInFlowKey: SymmetricKey

    /// `secret` is the app's `session` secret (at least 32 random bytes); `googleClientSecret`
    /// the OAuth client secret, needed when `settings.google.clientID` is set.
    public init(database: PortalDatabase, settings: AppSettings, logger: Logger, secret: Data,
                googleClientSecret: String? = nil) {
        self.database = database
        self.settings = settings
        self.logger = logger
        self.csrfTokens = CSRFTokens(secret: secret)
        self.signInFlowKey = SignInFlow.key(fromSessionSecret: secret)
        if let clientID = settings.google.clientID, let googleClientSecret {
            google = OpenIDClient(settings: settings.google, clientID: clientID, clientSecret: googleClientSecret)
        } else {
            google = nil
        }
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
