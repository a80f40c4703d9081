import Foundation
import Logging
import PortalApp
import PortalCore
import PortalData
import PortalTestSupport

/// A migrated database (SQLite in a temporary folder by default, or a fresh PostgreSQL database)
/// with two users and their tasks.
struct AppFixture {
    let directory: TemporaryDirectory
    let database: PortalDatabase
    let dropDatabase: @Sendable () async -> Void
    /// The configuration the fixture's database was opened with.
    let configuration: PortalConfiguration
    let services: AppServices
    let ana: UserAccount
    let bruno: UserAccount

    static let anaPassword = "senha-de-teste-bem-longa"

    /// `throughURL` may rewrite the database URL (to put a relay in front of the server).
    static func make(engine: TestDatabaseEngine = .sqlite, googleClientSecret: String? = nil,
                     configure: (inout AppSettings) -> Void = { _ in },
                     throughURL: (String) async throws -> String = { $0 }) async throws -> AppFixture {
        let directory = try TemporaryDirectory(prefix: "portal-app")
        var configuration = PortalConfiguration(dataDirectory: directory.path)
        configure(&configuration.app)
        try DataDirectory(directory.path).prepare()
        var logger = Logger(label: "test.app")
        logger.logLevel = .critical
        let (url, drop) = try await engine.freshDatabase(logger: logger)
        do {
            if let url { configuration.database.url = try await throughURL(url) }
        } catch {
            await drop()
            throw error
        }
        let database = try PortalDatabase.open(configuration, logger: logger)
        do {
            return try await populate(database, directory: directory, configuration: configuration, logger: logger,
                                      googleClientSecret: googleClientSecret, drop: drop)
        } catch {
            await database.shutdown()
            await drop()
            directory.remove()
            throw error
        }
    }

    private static func populate(_ database: PortalDatabase, directory: TemporaryDirectory, configuration: PortalConfiguration,
                                 logger: Logger, googleClientSecret: String?,
                                 drop: @escaping @Sendable () async -> Void) async throws -> AppFixture {
        try await database.migrate()
        let accounts = AccountStore(database: try database.database())
        let ana = try await accounts.createUser(email: "ana@escritorio.com.br", name: "Ana <Contadora>",
                                                password: anaPassword, role: .colaborador)
        let bruno = try await accounts.createUser(email: "bruno@escritorio.com.br", name: "Bruno",
                                                  password: "outra-senha-bem-longa", role: .colaborador)
        let tasks = TaskStore(database: try database.database())
        try await tasks.create(title: "<script>alert(1)</script> Revisar relatório", details: "Balancete & DRE",
                               status: .inProgress, dueDate: nil, assigneeID: ana.id)
        try await tasks.create(title: "Tarefa do Bruno", details: "", status: .pending, dueDate: nil,
                               assigneeID: bruno.id)
        let services = AppServices(database: database, settings: configuration.app, logger: logger,
                                   secret: Data((0..<32).map { _ in UInt8.random(in: 0...255) }),
                                   googleClientSecret: googleClientSecret)
        return AppFixture(directory: directory, database: database, dropDatabase: drop, configuration: configuration,
                          services: services, ana: ana, bruno: bruno)
    }

    /// Runs `body` with a fresh fixture and tears it down afterwards, also when `body` throws.
    static func with(engine: TestDatabaseEngine = .sqlite, googleClientSecret: String? = nil,
                     configure: (inout AppSettings) -> Void = { _ in },
                     _ body: (AppFixture) async throws -> Void) async throws {
        let fixture = try await make(engine: engine, googleClientSecret: googleClientSecret, configure: configure)
        do {
            try await body(fixture)
        } catch {
            await fixture.tearDown()
            throw error
        }
        await fixture.tearDown()
    }

    func tearDown() async {
        await database.shutdown()
        await dropDatabase()
        directory.remove()
    }
}
