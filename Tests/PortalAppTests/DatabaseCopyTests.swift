import FluentKit
import Foundation
import Logging
import PortalCore
import PortalData
import PortalTestSupport
import SQLKit
import Testing

/// `portal db copy` underneath: from the embedded SQLite file to each engine, verified, with
/// the copy usable afterwards.
@Suite("Copying the database to another one")
struct DatabaseCopyTests {
    @Test("every table and row arrives, and the new database keeps numbering after the copied ids",
          arguments: TestDatabaseEngine.available)
    func copy(to engine: TestDatabaseEngine) async throws {
        try await AppFixture.with(configure: { _ in }) { source in
            let handle = try source.database.database()
            try await CompanyStore(database: handle).create(name: "Padaria", cnpj: "11222333000181", responsibleID: source.ana.id)
            _ = try await APITokenStore(database: handle).create(userID: source.ana.id, name: "planilha", scope: .read, days: 30)
            _ = try await SessionStore(database: handle, idleTimeout: 3600, lifetime: 3600).create(userID: source.bruno.id, clientIP: "127.0.0.1", userAgent: "t")
            try await AuditLog(database: handle).record(AuditEvent(kind: .logout, userID: source.ana.id, email: source.ana.email, clientIP: "::1"))
            let before = try await BackupTests.snapshot(source.database)

            let target = try TemporaryDirectory(prefix: "portal-copy")
            defer { target.remove() }
            var configuration = PortalConfiguration(dataDirectory: target.path)
            try DataDirectory(target.path).prepare()
            let (url, drop) = try await engine.freshDatabase(logger: BackupTests.logger)
            configuration.database.url = url ?? ("sqlite://" + target.file("copia.sqlite"))
            let copy = try PortalDatabase.open(configuration, logger: BackupTests.logger)
            do {
                let report = try await DatabaseCopy(from: source.database, to: copy).run(logger: BackupTests.logger)
                #expect(report.rows.first { $0.table == "users" }?.count == 2)
                #expect(report.rows.first { $0.table == "sessions" }?.count == 1)
                #expect(try await BackupTests.snapshot(copy) == before)
                let carla = try await AccountStore(database: copy.database()).createUser(
                    email: "carla@escritorio.com.br", name: "Carla", password: "balancete-de-outubro", role: .gestor)
                #expect(carla.id == 3)
                // A second copy into the same (now full) database is refused.
                await #expect(throws: BackupError.self) {
                    _ = try await DatabaseCopy(from: source.database, to: copy).run(logger: BackupTests.logger)
                }
            } catch {
                await copy.shutdown()
                await drop()
                throw error
            }
            await copy.shutdown()
            await drop()
        }
    }

    @Test("the copy covers every table of the schema")
    func coversSchema() async throws {
        try await AppFixture.with(configure: { _ in }) { fixture in
            let sql = try #require(try fixture.database.database() as? any SQLDatabase)
            let rows = try await sql.raw("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != '_fluent_migrations'").all()
            let tables = Set(try rows.map { try $0.decode(column: "name", as: String.self) })
            #expect(tables == Set(DatabaseCopy.tables))
        }
    }
}
