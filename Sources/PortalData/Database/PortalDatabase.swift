public import FluentKit
import FluentPostgresDriver
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
    /// `SQLite` or `PostgreSQL`.
    public let engine: String

    private init(databases: Databases, logger: Logger, location: String, engine: String) {
        self.databases = databases
        self.logger = logger
        self.location = location
        self.engine = engine
    }

    /// Opens the database named by `configuration.database.url`, or the SQLite file in the data folder.
    public static func open(_ configuration: PortalConfiguration, logger: Logger) throws -> PortalDatabase {
        let target: DatabaseURL
        if let text = configuration.database.url {
            guard let parsed = DatabaseURL(text) else {
                throw DatabaseSetupError("database.url is not a database URL (sqlite://…, postgres://…)")
            }
            target = parsed
        } else {
            target = .sqlite(path: DataDirectory(configuration.dataDirectory).databaseFile)
        }
        let databases = Databases(threadPool: NIOThreadPool.singleton, on: MultiThreadedEventLoopGroup.singleton)
        switch target {
        case .sqlite(let path):
            databases.use(.sqlite(.file(path), sqlLogLevel: .trace), as: .sqlite)
        case .postgres(let url):
            let settings = configuration.database
            // Fluent keeps one pool per event loop; the seed's pool_size + max_overflow is spread over them.
            let loops = max(1, System.coreCount)
            let perLoop = max(1, (settings.poolSize + settings.maxOverflow + loops - 1) / loops)
            do {
                // The seed's pool_recycle: connections idle that long are closed (checked every
                // minute, or more often for short settings); the pool opens new ones on demand.
                let recycle = settings.poolRecycle
                databases.use(try .postgres(url: url, maxConnectionsPerEventLoop: perLoop,
                                            connectionPoolTimeout: .seconds(Int64(settings.poolTimeout)),
                                            pruneInterval: recycle > 0 ? .seconds(Int64(min(60, recycle))) : nil,
                                            maxIdleTimeBeforePruning: .seconds(Int64(max(recycle, 1))), sqlLogLevel: .trace),
                              as: .psql)
            } catch {
                throw DatabaseSetupError("database.url \(target.redacted): \(error)")
            }
        case .mysql(let url):
            #if MARIADB
            guard let server = MariaDBServer(url: url) else {
                throw DatabaseSetupError("database.url \(target.redacted): expected mysql://user:password@host:3306/database")
            }
            let settings = configuration.database
            let pool = MariaDBConnectionPool(server: server, size: settings.poolSize, overflow: settings.maxOverflow,
                                             timeoutSeconds: settings.poolTimeout, recycleSeconds: settings.poolRecycle)
            databases.use(DatabaseConfigurationFactory { FluentMariaDBConfiguration(pool: pool) }, as: .mysql)
            #else
            throw DatabaseSetupError("""
                database.url \(target.redacted): this build has no MariaDB/MySQL driver; install Debian's libmariadb-dev \
                and build again (swift build)
                """)
            #endif
        }
        return PortalDatabase(databases: databases, logger: logger, location: target.redacted, engine: target.engine)
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
        if let sql = database as? any SQLDatabase, sql.dialect.name == "sqlite" {
            try await sql.raw("PRAGMA journal_mode=WAL").run()
        }
        let migrations = Migrations()
        migrations.add(CreateInitialSchema())
        migrations.add(CreateAuditLog())
        migrations.add(CreateTokensAndCompanies())
        migrations.add(LongTextColumns())
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
