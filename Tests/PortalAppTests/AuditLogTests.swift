import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import PortalApp
import PortalData
import PortalTestSupport
import Testing

@Suite("Audit log", .serialized)
struct AuditLogTests {
    @Test("logins, failures, lockouts, logouts and revocations are recorded; only admins read them, with filters", arguments: TestDatabaseEngine.available)
    func recordedAndFiltered(engine: TestDatabaseEngine) async throws {
        let fixture = try await AppFixture.make(engine: engine)
        let accounts = AccountStore(database: try fixture.database.database())
        _ = try await accounts.createUser(email: "carla@escritorio.com.br", name: "Carla", password: "senha-da-admin-longa", role: .admin)
        try await PortalApplication.application(services: fixture.services).test(.router) { client in
            let page = try await AppRoutesTests.openLogin(client)
            let wrong = try await client.execute(uri: "/login", method: .post, headers: page.headers,
                                                 body: AppRoutesTests.form(email: "ana@escritorio.com.br", password: "nao-e-esta-senha", token: page.token))
            #expect(wrong.status == .unauthorized)
            let ana = try await SessionPageTests.signIn(client, email: "ana@escritorio.com.br", password: AppFixture.anaPassword, browser: "Teste")
            let tasks = String(buffer: try await SessionPageTests.get(client, "/tasks", cookie: ana).body)
            let token = try #require(AppRoutesTests.csrfToken(in: tasks))

            // A colaborador may not read the log.
            let refused = try await SessionPageTests.get(client, "/admin/audit", cookie: ana)
            #expect(refused.status == .forbidden)
            #expect(String(buffer: refused.body).contains("restrita a administradores"))
            let logout = try await SessionPageTests.post(client, "/logout", cookie: ana, token: token)
            #expect(logout.status == .seeOther)

            let admin = try await SessionPageTests.signIn(client, email: "carla@escritorio.com.br", password: "senha-da-admin-longa", browser: "Admin")
            let all = String(buffer: try await SessionPageTests.get(client, "/admin/audit", cookie: admin).body)
            for label in ["Falha de login", "Login realizado", "Saída"] { #expect(all.contains(label), "\(label)") }
            #expect(all.contains("ana@escritorio.com.br"))
            #expect(!all.contains("nao-e-esta-senha"))

            let failures = String(buffer: try await SessionPageTests.get(client, "/admin/audit?tipo=login.failed", cookie: admin).body)
            #expect(failures.contains("<td>Falha de login</td>"))
            #expect(!failures.contains("<td>Login realizado</td>"))
            let byText = String(buffer: try await SessionPageTests.get(client, "/admin/audit?busca=CARLA", cookie: admin).body)
            #expect(byText.contains("carla@escritorio.com.br"))
            #expect(!byText.contains("<td>ana@escritorio.com.br</td>"))
            let unknown = try await SessionPageTests.get(client, "/admin/audit?tipo=apagar", cookie: admin)
            #expect(unknown.status == .badRequest)
            let anonymous = try await client.execute(uri: "/admin/audit", method: .get)
            #expect(anonymous.headers[.location] == "/login?next=/admin/audit")
        }
        let stored = try await AuditLog(database: try fixture.database.database()).events()
        #expect(stored.map(\.kind) == [.loginSucceeded, .logout, .loginSucceeded, .loginFailed])
        #expect(!stored.contains { $0.email.contains("nao-e-esta-senha") })
        #expect(stored.allSatisfy { !$0.clientIP.isEmpty })
        await fixture.tearDown()
    }

    @Test("a locked-out login and revoked sessions are recorded with their detail", arguments: TestDatabaseEngine.available)
    func lockoutAndRevocation(engine: TestDatabaseEngine) async throws {
        let fixture = try await AppFixture.make(engine: engine)
        try await PortalApplication.application(services: LoginRateLimitTests.withStoppedClock(fixture.services)).test(.router) { client in
            let page = try await AppRoutesTests.openLogin(client)
            for _ in 0...LoginRateLimiter.accountFailures {
                _ = try await client.execute(uri: "/login", method: .post, headers: page.headers,
                                             body: AppRoutesTests.form(email: "bruno@escritorio.com.br", password: "errada-mas-longa", token: page.token))
            }
            let first = try await SessionPageTests.signIn(client, email: "ana@escritorio.com.br", password: AppFixture.anaPassword, browser: "A")
            _ = try await SessionPageTests.signIn(client, email: "ana@escritorio.com.br", password: AppFixture.anaPassword, browser: "B")
            let html = String(buffer: try await SessionPageTests.get(client, "/sessions", cookie: first).body)
            let token = try #require(AppRoutesTests.csrfToken(in: html))
            _ = try await SessionPageTests.post(client, "/sessions/revoke-others", cookie: first, token: token)
        }
        let log = AuditLog(database: try fixture.database.database())
        let locked = try await log.events(kind: .loginLocked)
        #expect(locked.count == 1)
        #expect(locked.first?.detail == "bloqueio de 60 segundos")
        #expect(locked.first?.email == "bruno@escritorio.com.br")
        let revoked = try await log.events(kind: .otherSessionsRevoked)
        #expect(revoked.first?.detail == "1 sessão")
        #expect(try await log.events(kind: .loginFailed).count == LoginRateLimiter.accountFailures)
        await fixture.tearDown()
    }
}
