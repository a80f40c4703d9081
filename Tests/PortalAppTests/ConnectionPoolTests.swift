import FluentKit
import Foundation
import Logging
import PortalCore
import PortalData
import PortalTestSupport
import SQLKit
import Synchronization
import Testing

/// The pool settings taken from the seed's SQLAlchemy options, on a real PostgreSQL server.
@Suite("Database connection pool")
struct ConnectionPoolTests {
    @Test("connections left unused for pool_recycle seconds are closed, and reopened on demand",
          .enabled(if: TestDatabaseEngine.available.contains(.postgres),
                   "no PostgreSQL server: run scripts/start-postgres.sh and source .build-services/postgres.env"))
    func recycle() async throws {
        var logger = Logger(label: "test.pool")
        logger.logLevel = .critical
        let (url, drop) = try await TestDatabaseEngine.postgres.freshDatabase(logger: logger)
        let name = try #require(url.flatMap { URLComponents(string: $0)?.path.dropFirst() }.map(String.init))
        var configuration = PortalConfiguration(dataDirectory: "/nonexistent")
        configuration.database.url = url
        configuration.database.poolRecycle = 1
        let database = try PortalDatabase.open(configuration, logger: logger)
        var admin = configuration
        admin.database.url = ProcessInfo.processInfo.environment["TEST_POSTGRES_URL"]
        admin.database.poolRecycle = 0
        let server = try PortalDatabase.open(admin, logger: logger)
        func connections() async throws -> Int {
            let sql = try #require(try server.database() as? any SQLDatabase)
            return try await sql.raw("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = \(bind: name)")
                .all().first?.decode(column: "n", as: Int.self) ?? -1
        }
        do {
            #expect(await database.ping())
            #expect(try await connections() >= 1)
            var closed = false
            for _ in 0..<50 where !closed {
                try await Task.sleep(for: .milliseconds(100))
                closed = try await connections() == 0
            }
            #expect(closed, "idle connections were not closed")
            #expect(await database.ping())
        } catch {
            await database.shutdown()
            await server.shutdown()
            await drop()
            throw error
        }
        await database.shutdown()
        await server.shutdown()
        await drop()
    }

    @Test("with every connection busy, a request waits pool_timeout seconds and then fails; the pool recovers",
          .enabled(if: TestDatabaseEngine.available.contains(.mariadb),
                   "no MariaDB server: run scripts/start-mariadb.sh and source .build-services/mariadb.env"))
    func waitTimeout() async throws {
        var logger = Logger(label: "test.pool")
        logger.logLevel = .critical
        let (url, drop) = try await TestDatabaseEngine.mariadb.freshDatabase(logger: logger)
        var configuration = PortalConfiguration(dataDirectory: "/nonexistent")
        configuration.database.url = url
        configuration.database.poolSize = 1
        configuration.database.maxOverflow = 0
        configuration.database.poolTimeout = 1
        let database = try PortalDatabase.open(configuration, logger: logger)
        do {
            try await database.migrate()
            let handle = try database.database()
            // One transaction holds the only connection for five seconds: far longer than
            // pool_timeout, so a late timer on a loaded machine is still told from waiting it out.
            let holding = Flag()
            async let holder: Void = handle.transaction { _ in
                holding.value.store(true, ordering: .relaxed)
                try await Task.sleep(for: .seconds(5))
            }
            for _ in 0..<500 where !holding.value.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(10)) }
            let started = ContinuousClock.now
            var failed = false
            do {
                _ = try await AccountStore(database: try database.database()).userCount()
            } catch {
                failed = true
                #expect("\(error)".contains("no database connection became free"), "\(error)")
            }
            let waited = ContinuousClock.now - started
            #expect(failed)
            #expect(waited >= .milliseconds(800) && waited < .seconds(4), "\(waited)")
            try await holder
            #expect(try await AccountStore(database: try database.database()).userCount() == 0)
        } catch {
            await database.shutdown()
            await drop()
            throw error
        }
        await database.shutdown()
        await drop()
    }
}

/// A flag one task raises and another waits for.
private final class Flag: Sendable {
    let value = Atomic(false)
}
