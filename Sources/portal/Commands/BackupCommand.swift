import ArgumentParser
import Foundation
import Logging
import PortalCore
import PortalApp
import PortalData
import ServiceLifecycle
import UnixSignals

/// `portal backup`: a consistent, compressed, checksummed copy of the database (the seed's
/// `mysqldump` script with its 30-day retention), safe to run while the portal is up.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back up the database (compressed, with a SHA-256 file) and remove old backups.")

    @OptionGroup var options: ConfigurationOptions

    @Option(name: .long, help: ArgumentHelp("Folder for the backups (default: <data-dir>/backups).", valueName: "dir"))
    var to: String?

    @Option(name: .long, help: ArgumentHelp("Remove backups older than this many days (0 keeps all).", valueName: "days"))
    var keepDays: Int = 30

    @Option(name: .long, help: ArgumentHelp("`daily`: keep running and take a backup every day at --at (for a service unit).",
                                            valueName: "daily"))
    var schedule: String?

    @Option(name: .long, help: ArgumentHelp("Local time of the daily backup, HH:MM (default: database.backup_time, 02:30).",
                                            valueName: "HH:MM"))
    var at: String?

    func validate() throws {
        guard (0...3650).contains(keepDays) else { throw ValidationError("--keep-days must be from 0 to 3650, got \(keepDays)") }
        if let to, to.isEmpty { throw ValidationError("--to must not be empty") }
        if let schedule, schedule != "daily" { throw ValidationError("--schedule must be daily, got '\(schedule)'") }
        if let at, BackupTime(at) == nil { throw ValidationError("--at must be a time of day as HH:MM, got '\(at)'") }
        if at != nil, schedule == nil { throw ValidationError("--at needs --schedule daily") }
    }

    func run() async throws {
        let configuration = try loadConfiguration(options)
        if schedule != nil {
            try await runDaily(configuration)
            return
        }
        let backup = DatabaseBackup(configuration: configuration)
        let directory = to ?? backup.defaultDirectory
        let started = ContinuousClock.now
        let file: BackupFile
        let database = try await openDatabase(configuration, logger: commandLogger("portal.backup"), migrate: false)
        do {
            file = try await backup.create(from: database, into: directory)
            await database.shutdown()
        } catch {
            await database.shutdown()
            throw CommandFailure("backup failed: \(error)")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
        let elapsed = ContinuousClock.now - started
        print("backup written: \(file.path) (\(ByteCountFormatter.string(fromByteCount: Int64(size), countStyle: .file)), \(elapsed.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow))))")
        print("checksum: \(file.checksumPath)")
        if keepDays > 0 {
            do {
                let removed = try backup.prune(directory, keepDays: keepDays)
                if !removed.isEmpty { print("removed \(removed.count) backup(s) older than \(keepDays) days: \(removed.joined(separator: ", "))") }
            } catch {
                throw CommandFailure("the backup was written, but removing old backups failed: \(error)")
            }
        }
    }
}

extension BackupCommand {
    /// Runs until SIGTERM or SIGINT, taking a backup every day (the same service the app runs
    /// with `database.backup_schedule: daily`).
    private func runDaily(_ configuration: PortalConfiguration) async throws {
        var configuration = configuration
        configuration.database.backupSchedule = "daily"
        if let at { configuration.database.backupTime = at }
        if let to { configuration.database.backupDirectory = to }
        configuration.database.backupKeepDays = keepDays
        let logger = Logger(label: "portal.backup")
        let database = try await openDatabase(configuration, logger: logger, migrate: false)
        print("taking a backup every day at \(configuration.database.backupTime) into \(configuration.database.backupDirectory ?? DatabaseBackup(configuration: configuration).defaultDirectory); stop with Ctrl-C")
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: DatabaseLifecycleService(database: database)),
                       .init(service: ScheduledBackupService(database: database, configuration: configuration, logger: logger))],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}

/// `portal restore FILE`: checks the backup's checksum, then restores it into the configured
/// database, which must be empty unless `--force`. Stop the app first.
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a backup taken by `portal backup` into the configured database (stop the portal first).")

    @OptionGroup var options: ConfigurationOptions

    @Argument(help: ArgumentHelp("The backup file (.sqlite.gz or .pgdump) with its .sha256 beside it.", valueName: "file"))
    var file: String

    @Flag(name: .long, help: "Replace a database that already holds data.")
    var force = false

    func run() async throws {
        let configuration = try loadConfiguration(options)
        let dataDirectory = try prepareDataDirectory(configuration)
        guard let lock = try DataDirectoryLock.acquire(dataDirectory, mode: .exclusive) else {
            throw CommandFailure("""
                the portal is running on data directory \(dataDirectory.path) (an app holds its portal.lock); \
                stop it (Ctrl-C on portal up, or systemctl stop portal-app) and restore again
                """)
        }
        defer { withExtendedLifetime(lock) {} }
        let logger = commandLogger("portal.restore")
        let started = ContinuousClock.now
        do {
            try await DatabaseBackup(configuration: configuration).restore(BackupFile(path: file), force: force, logger: logger)
        } catch {
            throw CommandFailure("restore refused: \(error)")
        }
        let elapsed = ContinuousClock.now - started
        print("restored \(file) (\(elapsed.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow)))); start the portal again")
    }
}

/// Loads `--config`/`--data-dir`, printing every configuration error as `file:line:column: message`.
func loadConfiguration(_ options: ConfigurationOptions) throws -> PortalConfiguration {
    do {
        return try options.load()
    } catch let error as ConfigurationError {
        for issue in error.issues { printError(issue.description) }
        throw ExitCode(1)
    }
}
