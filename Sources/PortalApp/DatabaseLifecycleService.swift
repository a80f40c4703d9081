public import PortalData
public import ServiceLifecycle

/// Keeps the database open while the app runs and closes it after the app has stopped
/// (services stop in reverse order, so this one is listed before the app).
public struct DatabaseLifecycleService: Service {
    private let database: PortalDatabase

    public init(database: PortalDatabase) {
        self.database = database
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await database.shutdown()
    }
}
