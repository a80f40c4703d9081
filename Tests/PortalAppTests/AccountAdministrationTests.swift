import Foundation
import PortalData
import PortalTestSupport
import Testing

@Suite("Account administration and the password policy", .serialized)
struct AccountAdministrationTests {
    @Test("weak passwords are refused with the reason", arguments: [
        ("curta-demais", "ana@escritorio.com.br", nil),
        ("curta", "ana@escritorio.com.br", "at least 12 characters"),
        (String(repeating: "frase-longa-", count: 7), "ana@escritorio.com.br", "at most 72 bytes"),
        ("aaaaaaaaaaaaaaaa", "ana@escritorio.com.br", "repeats one or two characters"),
        ("abababababababab", "ana@escritorio.com.br", "repeats one or two characters"),
        ("Password1234", "ana@escritorio.com.br", "common passwords"),
        ("contabilidade2024", "ana@escritorio.com.br", "common passwords"),
        ("TI02JPCONTABIL", "ana@escritorio.com.br", "common passwords"),
        ("joaquim.silva-2024", "joaquim.silva@escritorio.com.br", "e-mail address"),
    ] as [(String, String, String?)])
    func policy(password: String, email: String, problem: String?) {
        let found = PasswordPolicy.problem(with: password, email: email)
        if let problem {
            #expect(found?.contains(problem) == true, "\(found ?? "accepted")")
        } else {
            #expect(found == nil)
        }
    }

    @Test("deactivating ends sessions and sign-in; a new password ends sessions and the old one", arguments: TestDatabaseEngine.available)
    func deactivateAndReset(engine: TestDatabaseEngine) async throws {
        let fixture = try await AppFixture.make(engine: engine)
        let handle = try fixture.database.database()
        let accounts = AccountStore(database: handle)
        let sessions = SessionStore(database: handle, idleTimeout: 3600, lifetime: 7200)
        let token = try await sessions.create(userID: fixture.ana.id, clientIP: "127.0.0.1", userAgent: "t")
        try await accounts.setActive(false, email: "ANA@escritorio.com.br")
        #expect(try await sessions.user(forToken: token) == nil)
        #expect(try await accounts.authenticate(email: "ana@escritorio.com.br", password: AppFixture.anaPassword) == nil)
        try await accounts.setActive(true, email: "ana@escritorio.com.br")
        #expect(try await accounts.authenticate(email: "ana@escritorio.com.br", password: AppFixture.anaPassword) != nil)

        let second = try await sessions.create(userID: fixture.ana.id, clientIP: "127.0.0.1", userAgent: "t")
        await #expect(throws: AccountError.self) { try await accounts.setPassword("senha", email: "ana@escritorio.com.br") }
        #expect(try await sessions.user(forToken: second) != nil)
        try await accounts.setPassword("uma-nova-senha-comprida", email: "ana@escritorio.com.br")
        #expect(try await sessions.user(forToken: second) == nil)
        #expect(try await accounts.authenticate(email: "ana@escritorio.com.br", password: AppFixture.anaPassword) == nil)
        #expect(try await accounts.authenticate(email: "ana@escritorio.com.br", password: "uma-nova-senha-comprida") != nil)
        await fixture.tearDown()
    }

    @Test("the last active admin keeps the role and cannot be deactivated", arguments: TestDatabaseEngine.available)
    func lastAdmin(engine: TestDatabaseEngine) async throws {
        let fixture = try await AppFixture.make(engine: engine)
        let accounts = AccountStore(database: try fixture.database.database())
        try await accounts.setRole(.admin, email: "ana@escritorio.com.br")
        await #expect(throws: AccountError.self) { try await accounts.setRole(.gestor, email: "ana@escritorio.com.br") }
        await #expect(throws: AccountError.self) { try await accounts.setActive(false, email: "ana@escritorio.com.br") }
        try await accounts.setRole(.admin, email: "bruno@escritorio.com.br")
        #expect(try await accounts.setRole(.gestor, email: "ana@escritorio.com.br").role == .gestor)
        await #expect(throws: AccountError.self) { try await accounts.setRole(.gestor, email: "ninguem@escritorio.com.br") }
        await fixture.tearDown()
    }
}

@Suite("The last admin, under concurrent changes")
struct LastAdminRaceTests {
    @Test("two admins demoting each other at the same moment leave one admin", arguments: TestDatabaseEngine.available)
    func demoteEachOther(engine: TestDatabaseEngine) async throws {
        try await AppFixture.with(engine: engine, configure: { _ in }) { fixture in
            let accounts = AccountStore(database: try fixture.database.database())
            for email in ["chefe1@escritorio.com.br", "chefe2@escritorio.com.br"] {
                try await accounts.createUser(email: email, name: "Chefe", password: "livro-caixa-do-escritorio", role: .admin)
            }
            for _ in 0..<5 {
                let database = fixture.database
                async let first: Void = { _ = try? await AccountStore(database: database.database()).setRole(.gestor, email: "chefe1@escritorio.com.br") }()
                async let second: Void = { _ = try? await AccountStore(database: database.database()).setActive(false, email: "chefe2@escritorio.com.br") }()
                _ = await (first, second)
                let admins = try await accounts.users().filter { $0.role == .admin && $0.active }
                #expect(admins.count == 1)
                // Back to two admins for the next round.
                try await accounts.setRole(.admin, email: "chefe1@escritorio.com.br")
                try await accounts.setActive(true, email: "chefe2@escritorio.com.br")
            }
        }
    }
}
