import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PortalApp
import PortalData
import Testing

@Suite("Admin user pages and changing one's own password", .serialized)
struct AdminPagesTests {
    static let adminPassword = "livro-caixa-do-escritorio"

    static func withAdmin(_ body: @escaping @Sendable (AppFixture, any TestClientProtocol, String, String) async throws -> Void) async throws {
        try await AppFixture.with(configure: { _ in }) { fixture in
            try await AccountStore(database: fixture.services.database.database())
                .createUser(email: "chefe@escritorio.com.br", name: "Chefe", password: adminPassword, role: .admin)
            try await PortalApplication.application(services: fixture.services).test(.router) { client in
                let cookie = try await SessionPageTests.signIn(client, email: "chefe@escritorio.com.br", password: adminPassword, browser: "t")
                let page = try await SessionPageTests.get(client, "/admin/users", cookie: cookie)
                #expect(page.status == .ok)
                let csrf = try #require(AppRoutesTests.csrfToken(in: String(buffer: page.body)))
                try await body(fixture, client, cookie, csrf)
            }
        }
    }

    static func generatedPassword(in html: String) -> String? {
        html.components(separatedBy: "<code id=\"senha-gerada\">").dropFirst().first.map { String($0.prefix { $0 != "<" }) }
    }

    static func audit(_ fixture: AppFixture, _ kind: AuditEvent.Kind) async throws -> [AuditEvent] {
        try await AuditLog(database: fixture.services.database.database()).events(kind: kind)
    }

    @Test("only admins reach the page; everyone else is refused and changes nothing")
    func onlyAdmins() async throws {
        try await AppFixture.with(configure: { _ in }) { fixture in
            try await PortalApplication.application(services: fixture.services).test(.router) { client in
                let anonymous = try await client.execute(uri: "/admin/users", method: .get)
                #expect(anonymous.status == .found)
                #expect(anonymous.headers[.location] == "/login?next=/admin/users")
                let ana = try await SessionPageTests.signIn(client, email: "ana@escritorio.com.br", password: AppFixture.anaPassword, browser: "t")
                #expect(try await SessionPageTests.get(client, "/admin/users", cookie: ana).status == .forbidden)
                let tasks = String(buffer: try await SessionPageTests.get(client, "/tasks", cookie: ana).body)
                #expect(!tasks.contains("/admin/users"))
                let csrf = try #require(AppRoutesTests.csrfToken(in: tasks))
                let deactivate = try await SessionPageTests.post(client, "/admin/users/\(fixture.bruno.id)/deactivate", cookie: ana, token: csrf)
                #expect(deactivate.status == .forbidden)
                let create = try await SessionPageTests.post(client, "/admin/users", cookie: ana, token: csrf,
                                                             fields: "&email=x%40escritorio.com.br&name=X&role=admin")
                #expect(create.status == .forbidden)
            }
            let accounts = AccountStore(database: try fixture.services.database.database())
            #expect(try await accounts.user(id: fixture.bruno.id)?.active == true)
            #expect(try await accounts.user(email: "x@escritorio.com.br") == nil)
        }
    }

    @Test("creating a user shows the generated password once; it signs in; bad input is refused")
    func createUser() async throws {
        try await Self.withAdmin { fixture, client, cookie, csrf in
            let created = try await SessionPageTests.post(client, "/admin/users", cookie: cookie, token: csrf,
                                                          fields: "&email=Carla%40Escritorio.com.br&name=Carla+Souza&role=gestor")
            #expect(created.status == .created)
            let html = String(buffer: created.body)
            let password = try #require(Self.generatedPassword(in: html))
            #expect(password.count >= 20)
            #expect(html.contains("carla@escritorio.com.br"))
            let list = String(buffer: try await SessionPageTests.get(client, "/admin/users", cookie: cookie).body)
            #expect(!list.contains(password))
            _ = try await SessionPageTests.signIn(client, email: "carla@escritorio.com.br", password: password, browser: "t")
            #expect(try await AccountStore(database: fixture.services.database.database()).user(email: "carla@escritorio.com.br")?.role == .gestor)
            #expect(try await Self.audit(fixture, .userCreated).first?.detail == "perfil gestor, por chefe@escritorio.com.br")

            for (fields, message) in [
                ("&email=carla%40escritorio.com.br&name=Outra&role=gestor", "Já existe"),
                ("&email=sem-arroba&name=Outra&role=gestor", "e-mail válido"),
                ("&email=d%40escritorio.com.br&name=&role=gestor", "Informe o nome"),
                ("&email=d%40escritorio.com.br&name=D&role=dono", "Escolha o perfil"),
            ] {
                let refused = try await SessionPageTests.post(client, "/admin/users", cookie: cookie, token: csrf, fields: fields)
                #expect(refused.status == .badRequest, "\(fields)")
                #expect(String(buffer: refused.body).contains(message), "\(fields)")
            }
            #expect(try await AccountStore(database: fixture.services.database.database()).user(email: "d@escritorio.com.br") == nil)
        }
    }

    @Test("deactivate ends sessions and tokens; reactivate; role change; password reset; all audited")
    func changes() async throws {
        try await Self.withAdmin { fixture, client, cookie, csrf in
            let database = try fixture.services.database.database()
            let ana = try await SessionPageTests.signIn(client, email: "ana@escritorio.com.br", password: AppFixture.anaPassword, browser: "t")
            let token = try await APITokenStore(database: database).create(userID: fixture.ana.id, name: "t", scope: .read, days: 30).token

            let off = try await SessionPageTests.post(client, "/admin/users/\(fixture.ana.id)/deactivate", cookie: cookie, token: csrf)
            #expect(off.status == .seeOther)
            #expect(try await SessionPageTests.get(client, "/tasks", cookie: ana).status == .found)
            #expect(try await client.execute(uri: "/api/v1/me", method: .get, headers: APITokenTests.bearer(token)).status == .unauthorized)
            #expect(String(buffer: try await SessionPageTests.get(client, "/admin/users", cookie: cookie).body).contains("Desativado"))
            #expect(try await Self.audit(fixture, .userDeactivated).first?.detail == "por chefe@escritorio.com.br")

            #expect(try await SessionPageTests.post(client, "/admin/users/\(fixture.ana.id)/activate", cookie: cookie, token: csrf).status == .seeOther)
            #expect(try await SessionPageTests.post(client, "/admin/users/\(fixture.ana.id)/role", cookie: cookie, token: csrf,
                                                    fields: "&role=gestor").status == .seeOther)
            #expect(try await AccountStore(database: database).user(id: fixture.ana.id)?.role == .gestor)
            #expect(try await Self.audit(fixture, .roleChanged).first?.detail == "colaborador → gestor, por chefe@escritorio.com.br")

            let anaAgain = try await SessionPageTests.signIn(client, email: "ana@escritorio.com.br", password: AppFixture.anaPassword, browser: "t")
            let reset = try await SessionPageTests.post(client, "/admin/users/\(fixture.ana.id)/reset-password", cookie: cookie, token: csrf)
            #expect(reset.status == .ok)
            let newPassword = try #require(Self.generatedPassword(in: String(buffer: reset.body)))
            #expect(try await SessionPageTests.get(client, "/tasks", cookie: anaAgain).status == .found)
            #expect(try await AccountStore(database: database).authenticate(email: "ana@escritorio.com.br", password: AppFixture.anaPassword) == nil)
            #expect(try await AccountStore(database: database).authenticate(email: "ana@escritorio.com.br", password: newPassword) != nil)

            let unknown = try await SessionPageTests.post(client, "/admin/users/999999/deactivate", cookie: cookie, token: csrf)
            #expect(unknown.status == .notFound)
        }
    }

    @Test("the only active admin cannot deactivate or demote themselves")
    func lastAdmin() async throws {
        try await Self.withAdmin { fixture, client, cookie, csrf in
            let admin = try #require(try await AccountStore(database: fixture.services.database.database()).user(email: "chefe@escritorio.com.br"))
            for (path, fields) in [("deactivate", ""), ("role", "&role=colaborador")] {
                let refused = try await SessionPageTests.post(client, "/admin/users/\(admin.id)/\(path)", cookie: cookie, token: csrf, fields: fields)
                #expect(refused.status == .badRequest)
                #expect(String(buffer: refused.body).contains("única conta de administrador"))
            }
            let after = try await AccountStore(database: fixture.services.database.database()).user(id: admin.id)
            #expect(after?.active == true)
            #expect(after?.role == .admin)
        }
    }

    @Test("guessing the current password on the change form is limited like sign-in")
    func currentPasswordGuesses() async throws {
        try await AppFixture.with(configure: { _ in }) { fixture in
            try await PortalApplication.application(services: fixture.services).test(.router) { client in
                let here = try await SessionPageTests.signIn(client, email: "ana@escritorio.com.br", password: AppFixture.anaPassword, browser: "t")
                let csrf = try #require(AppRoutesTests.csrfToken(in: String(buffer: try await SessionPageTests.get(client, "/account/password", cookie: here).body)))
                var statuses: [HTTPResponse.Status] = []
                for guess in 0..<7 {
                    let response = try await SessionPageTests.post(client, "/account/password", cookie: here, token: csrf,
                                                                   fields: "&current=palpite-\(guess)-errado&new=balancete-de-outubro&confirmation=balancete-de-outubro")
                    statuses.append(response.status)
                }
                #expect(statuses.prefix(5).allSatisfy { $0 == .badRequest })
                #expect(statuses.suffix(2).allSatisfy { $0 == .tooManyRequests })
            }
        }
    }

    @Test("changing one's own password: checks, policy, other sessions end, this one continues")
    func ownPassword() async throws {
        try await AppFixture.with(configure: { _ in }) { fixture in
            try await PortalApplication.application(services: fixture.services).test(.router) { client in
                let here = try await SessionPageTests.signIn(client, email: "ana@escritorio.com.br", password: AppFixture.anaPassword, browser: "aqui")
                let token = try await APITokenStore(database: fixture.services.database.database())
                    .create(userID: fixture.ana.id, name: "t", scope: .read, days: 30).token
                let elsewhere = try await SessionPageTests.signIn(client, email: "ana@escritorio.com.br", password: AppFixture.anaPassword, browser: "lá")
                let page = String(buffer: try await SessionPageTests.get(client, "/account/password", cookie: here).body)
                let csrf = try #require(AppRoutesTests.csrfToken(in: page))
                let current = AppFixture.anaPassword
                for (fields, message) in [
                    ("&current=errada-errada-errada&new=balancete-de-outubro&confirmation=balancete-de-outubro", "senha atual não confere"),
                    ("&current=\(current)&new=balancete-de-outubro&confirmation=balancete-de-novembro", "confirmação"),
                    ("&current=\(current)&new=curta&confirmation=curta", "pelo menos 12"),
                    ("&current=\(current)&new=contabilidade&confirmation=contabilidade", "muito comum"),
                ] {
                    let refused = try await SessionPageTests.post(client, "/account/password", cookie: here, token: csrf, fields: fields)
                    #expect(refused.status == .badRequest, "\(fields)")
                    #expect(String(buffer: refused.body).contains(message), "\(fields): \(String(buffer: refused.body))")
                }
                let changed = try await SessionPageTests.post(client, "/account/password", cookie: here, token: csrf,
                                                              fields: "&current=\(current)&new=balancete-de-outubro&confirmation=balancete-de-outubro")
                #expect(changed.status == .seeOther)
                let fresh = try #require(changed.headers[.setCookie]?.split(separator: ";").first.map(String.init))
                // A token made with the old password does not outlive it.
                #expect(try await client.execute(uri: "/api/v1/me", method: .get, headers: APITokenTests.bearer(token)).status == .unauthorized)
                #expect(try await SessionPageTests.get(client, "/tasks", cookie: fresh).status == .ok)
                #expect(try await SessionPageTests.get(client, "/tasks", cookie: elsewhere).status == .found)
                _ = try await SessionPageTests.signIn(client, email: "ana@escritorio.com.br", password: "balancete-de-outubro", browser: "t")
            }
            #expect(try await Self.audit(fixture, .passwordChanged).first?.detail == "pelo próprio usuário")
        }
    }
}
