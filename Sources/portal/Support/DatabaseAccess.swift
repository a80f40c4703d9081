import Logging
import PortalCore
import PortalData

/// A logger for a one-shot command: warnings and worse only.
func commandLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = .warning
    return logger
}

/// Opens the configured database for a command, migrated unless `migrate` is false; a failure
/// becomes one line naming it.
func openDatabase(_ configuration: PortalConfiguration, logger: Logger, migrate: Bool = true) async throws -> PortalDatabase {
    let database: PortalDatabase
    do {
        database = try PortalDatabase.open(configuration, logger: logger)
    } catch {
        throw CommandFailure("cannot open the database: \(error)")
    }
    guard migrate else { return database }
    do {
        try await database.migrate()
    } catch {
        await database.shutdown()
        throw CommandFailure("cannot open the database: \(error)")
    }
    return database
}
