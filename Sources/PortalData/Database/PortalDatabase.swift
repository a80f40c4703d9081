public import FluentKit
import FluentSQLiteDriver
import Foundation
public import Logging
import NIOCore
import NIOPosix
public import PortalCore
import SQLKit

/// The portal's database: chosen from the configuration, migrated, and shut down cleanly.
public final class PortalDatabase: Sendable {
    private let databases: Databases
    private let logger: Logger
    /// A description of where the data lives, without credentials (for logs and messages).
    public let location: String

    private init(databases: Databases, logger: Logger, location: String) {
        self.databases = databases
        self.logger = logger
        self.location = location
    }

    /// Opens the database named by `configuration.database.url`, or the SQLite file in the data folder.
    public static func open(_ configuration: PortalConfiguration, logger: Logger) throws -> PortalDatabase {
        let dataDirectory = DataDirectory(configuration.dataDirectory)
        let path: String
        if let url = configuration.database.url {
            guard url.hasPrefix("sqlite://") else {
                throw DatabaseSetupError("database.url \(url): only sqlite:// URLs are supported by this build")
            }
            path = String(url.dropFirst("sqlite://".count))
        } else {
            path = dataDirectory.databaseFile
        }
        let databases = Databases(threadPool: NIOThreadPool.singleton, on: MultiThreadedEventLoopGroup.singleton)
        databases.use(.sqlite(.file(path), sqlLogLevel: .trace), as: .sqlite)
        return PortalDatabase(databases: databases, logger: logger, location: path)
    }

    /// A database handle for one unit of work.
    public func database(logger: Logger? = nil) throws -> any Database {
        guard let database = databases.database(logger: logger ?? self.logger,
                                                on: MultiThreadedEventLoopGroup.singleton.any()) else {
            throw DatabaseSetupError("the database has been shut down")
        }
        return database
    }

    /// Applies every migration not yet applied, and the SQLite settings that persist in the file.
    public func migrate() async throws {
        let database = try self.database()
        if let sql = database as? any SQLDatabase {
            try await sql.raw("PRAGMA journal_mode=WAL").run()
        }
        let migrations = Migrations()
        migrations.add(CreateInitialSchema())
        migrations.add(CreateAuditLog())
        migrations.add(CreateTokensAndCompanies())
        let migrator = Migrator(databases: databases, migrations: migrations, logger: logger,
                                on: MultiThreadedEventLoopGroup.singleton.any(), migrationLogLevel: .info)
        try await migrator.setupIfNeeded().get()
        try await migrator.prepareBatch().get()
    }

    /// Runs a trivial query; false when the database cannot answer.
    public func ping() async -> Bool {
        do {
            guard let sql = try database() as? any SQLDatabase else { return false }
            try await sql.raw("SELECT 1").run()
            return true
        } catch {
            logger.warning("database ping failed", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Closes every connection.
    public func shutdown() async {
        await databases.shutdownAsync()
    }
}

/// The database cannot be opened or used as configured.
public struct DatabaseSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) {
        self.description = description
    }
}
