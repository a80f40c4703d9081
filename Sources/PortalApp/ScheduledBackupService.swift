public import Foundation
public import Logging
public import PortalCore
public import PortalData
public import ServiceLifecycle

/// Takes a backup every day at `database.backup_time` and prunes old ones, inside the app
/// (`database.backup_schedule: daily`). A failed backup is logged and tried again the next day;
/// it never stops the app. With several app instances, turn it on in one of them.
public struct ScheduledBackupService: Service {
    private let database: PortalDatabase
    private let configuration: PortalConfiguration
    private let logger: Logger
    /// The clock, replaceable in tests.
    private let now: @Sendable () -> Date

    public init(database: PortalDatabase, configuration: PortalConfiguration, logger: Logger,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.configuration = configuration
        self.logger = logger
        self.now = now
    }

    public func run() async throws {
        guard let time = BackupTime(configuration.database.backupTime) else { return }
        let backup = DatabaseBackup(configuration: configuration)
        let directory = configuration.database.backupDirectory ?? backup.defaultDirectory
        while !Task.isShuttingDownGracefully {
            let current = now()
            let next = time.next(after: current)
            logger.info("next scheduled backup", metadata: ["at": "\(next)"])
            do {
                try await cancelWhenGracefulShutdown {
                    try await Task.sleep(for: .seconds(max(1, next.timeIntervalSince(current))))
                }
            } catch {
                return
            }
            if Task.isShuttingDownGracefully { return }
            do {
                let file = try await backup.create(from: database, into: directory)
                let removed = configuration.database.backupKeepDays > 0
                    ? try backup.prune(directory, keepDays: configuration.database.backupKeepDays) : []
                logger.info("scheduled backup written", metadata: ["file": "\(file.path)", "removed": "\(removed.count)"])
            } catch {
                logger.error("scheduled backup failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
