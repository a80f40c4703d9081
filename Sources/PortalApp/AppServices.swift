import Foundation
public import Logging
public import PortalCore
public import PortalData

/// What the routes share: the database and the settings that shape sessions.
public struct AppServices: Sendable {
    public let database: PortalDatabase
    public let settings: AppSettings
    public let logger: Logger

    public init(database: PortalDatabase, settings: AppSettings, logger: Logger) {
        self.database = database
        self.settings = settings
        self.logger = logger
    }

    func sessions() throws -> SessionStore {
        SessionStore(database: try database.database(),
                     idleTimeout: TimeInterval(settings.sessionIdleMinutes * 60),
                     lifetime: TimeInterval(settings.sessionLifetimeHours * 3600))
    }

    func accounts() throws -> AccountStore {
        AccountStore(database: try database.database())
    }

    func tasks() throws -> TaskStore {
        TaskStore(database: try database.database())
    }
}
