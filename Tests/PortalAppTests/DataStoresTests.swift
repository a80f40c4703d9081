import Foundation
import Logging
import PortalCore
import PortalData
import PortalTestSupport
import Testing

@Suite("Accounts, sessions and secrets", .serialized)
struct DataStoresTests {
    @Test("sessions end after the idle timeout and the lifetime", arguments: TestDatabaseEngine.available)
    func sessionExpiry(engine: TestDatabaseEngine) async throws {
        let fixture = try await AppFixture.make(engine: engine)
        let store = SessionStore(database: try fixture.database.database(), idleTimeout: 600, lifetime: 3600)
        let start = Date()
        let token = try await store.create(userID: fixture.ana.id, clientIP: "127.0.0.1", userAgent: "t", now: start)
        #expect(try await store.user(forToken: token, now: start.addingTimeInterval(300))?.id == fixture.ana.id)
        #expect(try await store.user(forToken: token, now: start.addingTimeInterval(300 + 601)) == nil)
        let second = try await store.create(userID: fixture.ana.id, clientIP: "127.0.0.1", userAgent: "t", now: start)
        var now = start
        for _ in 0..<7 {
            now = now.addingTimeInterval(500)
            _ = try await store.user(forToken: second, now: now)
        }
        #expect(try await store.user(forToken: second, now: start.addingTimeInterval(3601)) == nil)
        #expect(try await store.user(forToken: "made-up", now: start) == nil)
        await fixture.tearDown()
    }

    @Test("a duplicate or malformed e-mail is refused", arguments: TestDatabaseEngine.available)
    func userValidation(engine: TestDatabaseEngine) async throws {
        let fixture = try await AppFixture.make(engine: engine)
        let accounts = AccountStore(database: try fixture.database.database())
        await #expect(throws: AccountError.self) {
            try await accounts.createUser(email: "ANA@escritorio.com.br", name: "x", password: "uma-senha-valida-e-longa", role: .gestor)
        }
        await #expect(throws: AccountError.self) {
            try await accounts.createUser(email: "not an email", name: "x", password: "uma-senha-valida-e-longa", role: .gestor)
        }
        await fixture.tearDown()
    }

    @Test("the first administrator is created once")
    func bootstrapAdministrator() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let configuration = PortalConfiguration(dataDirectory: directory.path)
        try DataDirectory(directory.path).prepare()
        let database = try PortalDatabase.open(configuration, logger: .init(label: "t"))
        try await database.migrate()
        let accounts = AccountStore(database: try database.database())
        let first = try #require(try await accounts.bootstrapAdministratorIfNeeded())
        #expect(first.password.count == 20)
        #expect(try await accounts.bootstrapAdministratorIfNeeded() == nil)
        let admin = try #require(try await accounts.authenticate(email: first.email, password: first.password))
        #expect(admin.role == .admin)
        #expect(try await TaskStore(database: try database.database()).tasks(assignedTo: admin.id).count == 1)
        await database.shutdown()
    }

    @Test("secrets are generated once with mode 0600")
    func generatedSecret() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = DataDirectory(directory.path)
        try data.prepare()
        let store = SecretStore(dataDirectory: data, environment: [:])
        let first = try store.secret("session")
        #expect(first.count == 32)
        #expect(try store.secret("session") == first)
        let attributes = try FileManager.default.attributesOfItem(atPath: data.secretsDirectory + "/session.key")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test("the seed's published keys and weak values are refused", arguments: [
        "TI02JPCONTABIL", "TI02JPCONTABIL_CSRF", "53fr8VJIQK5rEklEDlZrx4vftzV0SsnjLhXtwxvYNxc=", "short",
        String(repeating: "a", count: 64),
    ])
    func weakSecrets(value: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = SecretStore(dataDirectory: DataDirectory(directory.path),
                                environment: ["PORTAL_SECRET_SESSION": value])
        let error = try #require(throws: SecretError.self) { try store.secret("session") }
        #expect(error.description.contains("PORTAL_SECRET_SESSION"))
    }
}
