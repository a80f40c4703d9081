import ArgumentParser
import Foundation
import Logging
import PortalCore
import PortalData

/// `portal db …`: work on the database as a whole.
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Work on the database as a whole.",
        subcommands: [DatabaseCopyCommand.self, DatabaseDemoCommand.self])
}

/// `portal db copy --to URL`: everything from the configured database into a new one, verified.
struct DatabaseCopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy every row into a new, empty database (e.g. from SQLite to PostgreSQL) and verify it.")

    @OptionGroup var options: ConfigurationOptions

    @Option(name: .long, help: ArgumentHelp("The new database, e.g. postgres://portal:secret@127.0.0.1:5432/portal.",
                                            valueName: "url"))
    var to: String

    func validate() throws {
        guard let target = DatabaseURL(to) else {
            throw ValidationError("--to must be a database URL such as postgres://user:password@host:5432/database")
        }
        if case .mysql = target { throw ValidationError("--to: MariaDB/MySQL is not supported by this build yet") }
    }

    func run() async throws {
        let configuration = try loadConfiguration(options)
        try prepareDataDirectory(configuration)
        let logger = commandLogger("portal.db")
        var targetConfiguration = configuration
        targetConfiguration.database.url = to
        let redacted = DatabaseURL(to)?.redacted ?? "the target"
        let source = try await openDatabase(configuration, logger: logger, migrate: false)
        let target: PortalDatabase
        do {
            target = try PortalDatabase.open(targetConfiguration, logger: logger)
        } catch {
            await source.shutdown()
            throw CommandFailure("cannot open \(redacted): \(error)")
        }
        let started = ContinuousClock.now
        let report: DatabaseCopy.Report
        do {
            report = try await DatabaseCopy(from: source, to: target).run(logger: logger)
        } catch {
            await source.shutdown()
            await target.shutdown()
            throw CommandFailure("copy to \(redacted) failed: \(error)")
        }
        await source.shutdown()
        await target.shutdown()
        let elapsed = ContinuousClock.now - started
        print("copied \(source.location) → \(redacted) in \(elapsed.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow)))")
        for (table, count) in report.rows { print("  \(table): \(count) rows") }
        print("row counts and checksums match on both sides.")
        print("To use the new database, stop the portal, set database.url (or PORTAL_DATABASE_URL) to \(redacted)")
        print("with its real password, and start the portal again; keep the old file as a fallback until you are sure.")
    }
}

/// `portal db demo`: fictional staff, companies and tasks in a new portal, to try it or measure it.
struct DatabaseDemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Fill a new portal with fictional staff, companies and tasks.")

    @OptionGroup var options: ConfigurationOptions

    @Option(name: .long, help: "Staff members to create (the first two are managers).")
    var staff = 12

    @Option(name: .long, help: "Companies to create.")
    var companies = 300

    @Option(name: .long, help: "Tasks to create.")
    var tasks = 5_000

    func validate() throws {
        guard (1...500).contains(staff) else { throw ValidationError("--staff must be from 1 to 500, got \(staff)") }
        guard (0...100_000).contains(companies) else { throw ValidationError("--companies must be from 0 to 100000, got \(companies)") }
        guard (0...1_000_000).contains(tasks) else { throw ValidationError("--tasks must be from 0 to 1000000, got \(tasks)") }
    }

    func run() async throws {
        let configuration = try loadConfiguration(options)
        try prepareDataDirectory(configuration)
        let database = try await openDatabase(configuration, logger: commandLogger("portal.db"))
        let started = ContinuousClock.now
        do {
            let summary = try await DemoData(database: database.database()).seed(staff: staff, companies: companies, tasks: tasks)
            await database.shutdown()
            let elapsed = ContinuousClock.now - started
            print("demo data in \(database.location): \(summary.users) staff, \(summary.companies) companies, \(summary.tasks) tasks, \(summary.auditEvents) audit events (\(elapsed.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow))))")
            print("every demo user signs in with the password: \(summary.password)")
        } catch {
            await database.shutdown()
            throw CommandFailure("\(error)")
        }
    }
}
