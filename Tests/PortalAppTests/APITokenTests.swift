import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PortalApp
import PortalCore
import PortalData
import PortalTestSupport
import Testing

@Suite("Personal API tokens and /api/v1", .serialized)
struct APITokenTests {
    static func bearer(_ token: String) -> HTTPFields {
        [.authorization: "Bearer \(token)", .contentType: "application/json"]
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    static func errorCode(_ response: TestResponse) throws -> String? {
        (try json(response)["error"] as? [String: Any])?["code"] as? String
    }

    /// The token shown once on the page that answers the creation form.
    static func createToken(_ client: some TestClientProtocol, cookie: String, scope: String = "read,write",
                            name: String = "Planilha") async throws -> (token: String, page: String) {
        let list = String(buffer: try await SessionPageTests.get(client, "/tokens", cookie: cookie).body)
        let csrf = try #require(AppRoutesTests.csrfToken(in: list))
        let encodedScope = scope.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? scope
        let created = try await SessionPageTests.post(client, "/tokens", cookie: cookie, token: csrf,
                                                      fields: "&name=\(name)&scope=\(encodedScope)&days=90")
        #expect(created.status == .created)
        let html = String(buffer: created.body)
        let token = try #require(html.components(separatedBy: "<code id=\"novo-token\">").dropFirst().first?
            .prefix { $0 != "<" })
        return (String(token), html)
    }

    @Test("a token is shown once, stored hashed, works as a bearer, and is audited", arguments: TestDatabaseEngine.available)
    func createAndUse(engine: TestDatabaseEngine) async throws {
        let fixture = try await AppFixture.make(engine: engine)
        try await PortalApplication.application(services: fixture.services).test(.router) { client in
            let cookie = try await SessionPageTests.signIn(client, email: "ana@escritorio.com.br", password: AppFixture.anaPassword, browser: "t")
            let (token, page) = try await Self.createToken(client, cookie: cookie)
            #expect(token.hasPrefix("ptl_"))
            #expect(token.count >= 40)
            #expect(page.contains("não será mostrado de novo"))

            // The list afterwards shows the prefix, never the token.
            let list = String(buffer: try await SessionPageTests.get(client, "/tokens", cookie: cookie).body)
            #expect(!list.contains(token))
            #expect(list.contains(String(token.prefix(10))))
            #expect(list.contains("Planilha"))
            #expect(list.contains("Nunca"))

            let me = try await client.execute(uri: "/api/v1/me", method: .get, headers: Self.bearer(token))
            #expect(me.status == .ok)
            #expect(me.headers[.contentType] == "application/json; charset=utf-8")
            let body = try Self.json(me)
            #expect(body["email"] as? String == "ana@escritorio.com.br")
            #expect(body["role"] as? String == "colaborador")
            #expect(body["token_scope"] as? String == "read,write")

            // Last use is recorded, and the database holds only the hash.
            let stored = try fixture.services.database.database()
            let summaries = try await APITokenStore(database: stored).tokens(ofUser: fixture.ana.id)
            #expect(summaries.count == 1)
            #expect(summaries.first?.lastUsedAt != nil)
            let events = try await AuditLog(database: stored).events(kind: .tokenCreated)
            #expect(events.count == 1)
            #expect(events.first?.detail.contains("Planilha") == true)
            #expect(events.first?.detail.contains(token) == false)
        }
        await fixture.tearDown()
    }

    @Test("no token, a wrong one, or only the session cookie: 401 JSON with a Bearer challenge", arguments: TestDatabaseEngine.available)
    func unauthenticated(engine: TestDatabaseEngine) async throws {
        let fixture = try await AppFixture.make(engine: engine)
        try await PortalApplication.application(services: fixture.services).test(.router) { client in
            let missing = try await client.execute(uri: "/api/v1/tasks", method: .get)
            #expect(missing.status == .unauthorized)
            #expect(missing.headers[.wwwAuthenticate] == #"Bearer realm="portal""#)
            #expect(try Self.errorCode(missing) == "missing_token")

            let wrong = try await client.execute(uri: "/api/v1/tasks", method: .get, headers: Self.bearer("ptl_nao-existe"))
            #expect(wrong.status == .unauthorized)
            #expect(wrong.headers[.wwwAuthenticate]?.contains(#"error="invalid_token""#) == true)

            let basic = try await client.execute(uri: "/api/v1/tasks", method: .get, headers: [.authorization: "Basic YTpi"])
            #expect(basic.status == .unauthorized)

            // A browser session does not open the API (no CSRF exposure through cookies).
            let cookie = try await SessionPageTests.signIn(client, email: "ana@escritorio.com.br", password: AppFixture.anaPassword, browser: "t")
            let withCookie = try await client.execute(uri: "/api/v1/tasks", method: .get, headers: [.cookie: cookie])
            #expect(withCookie.status == .unauthorized)
            let post = try await client.execute(uri: "/api/v1/tasks", method: .post,
                                                headers: [.cookie: cookie, .contentType: "application/json"],
                                                body: ByteBuffer(string: #"{"title":"x"}"#))
            #expect(post.status == .unauthorized)
            #expect(try await TaskStore(database: fixture.services.database.database()).tasks(assignedTo: fixture.ana.id).count == 1)
        }
        await fixture.tearDown()
    }

    @Test("a read-only token reads but cannot change; a read-write token can", arguments: TestDatabaseEngine.available)
    func scopes(engine: TestDatabaseEngine) async throws {
        let fixture = try await AppFixture.make(engine: engine)
        let tokens = APITokenStore(database: try fixture.services.database.database())
        let readOnly = try await tokens.create(userID: fixture.ana.id, name: "leitura", scope: .read, days: 30).token
        let readWrite = try await tokens.create(userID: fixture.ana.id, name: "escrita", scope: .readWrite, days: 30).token
        try await PortalApplication.application(services: fixture.services).test(.router) { client in
            let list = try await client.execute(uri: "/api/v1/tasks", method: .get, headers: Self.bearer(readOnly))
            #expect(list.status == .ok)
            let tasks = try #require(try Self.json(list)["tasks"] as? [[String: Any]])
            #expect(tasks.count == 1)
            let id = try #require(tasks.first?["id"] as? Int)

            let refused = try await client.execute(uri: "/api/v1/tasks/\(id)", method: .patch, headers: Self.bearer(readOnly),
                                                   body: ByteBuffer(string: #"{"status":"concluida"}"#))
            #expect(refused.status == .forbidden)
            #expect(try Self.errorCode(refused) == "insufficient_scope")
            #expect(refused.headers[.wwwAuthenticate]?.contains("insufficient_scope") == true)

            let changed = try await client.execute(uri: "/api/v1/tasks/\(id)", method: .patch, headers: Self.bearer(readWrite),
                                                   body: ByteBuffer(string: #"{"status":"concluida"}"#))
            #expect(changed.status == .ok)
            #expect(try Self.json(changed)["status"] as? String == "concluida")

            let created = try await client.execute(uri: "/api/v1/tasks", method: .post, headers: Self.bearer(readWrite),
                                                   body: ByteBuffer(string: #"{"title":"Enviar DCTF","due_date":"2026-12-15"}"#))
            #expect(created.status == .created)
            let body = try Self.json(created)
            #expect(body["due_date"] as? String == "2026-12-15")
            #expect(body["assignee_id"] as? Int == fixture.ana.id)
            #expect(created.headers[.location] == "/api/v1/tasks/\(body["id"] as? Int ?? 0)")
        }
        await fixture.tearDown()
    }

    @Test("bad bodies get a clear answer and change nothing", arguments: TestDatabaseEngine.available)
    func badInput(engine: TestDatabaseEngine) async throws {
        let fixture = try await AppFixture.make(engine: engine)
        let token = try await APITokenStore(database: try fixture.services.database.database())
            .create(userID: fixture.ana.id, name: "x", scope: .readWrite, days: 30).token
        try await PortalApplication.application(services: fixture.services).test(.router) { client in
            let cases: [(String, HTTPResponse.Status, String)] = [
                ("{", .badRequest, "JSON válido"),
                (#"{"details":"sem título"}"#, .badRequest, "\"title\""),
                (#"{"title":5}"#, .badRequest, "\"title\""),
                (#"{"title":"   "}"#, .unprocessableContent, "título"),
                (#"{"title":"ok","due_date":"2026-02-30"}"#, .unprocessableContent, "due_date"),
                (#"{"title":"ok","status":"feita"}"#, .unprocessableContent, "pendente"),
                (#"{"title":"ok","assignee_id":\#(fixture.bruno.id)}"#, .forbidden, "si mesmos"),
            ]
            for (body, status, message) in cases {
                let response = try await client.execute(uri: "/api/v1/tasks", method: .post, headers: Self.bearer(token),
                                                        body: ByteBuffer(string: body))
                #expect(response.status == status, "\(body)")
                let error = try Self.json(response)["error"] as? [String: Any]
                #expect((error?["message"] as? String)?.contains(message) == true, "\(body): \(String(buffer: response.body))")
            }
            var plain = Self.bearer(token)
            plain[.contentType] = "text/plain"
            let unsupported = try await client.execute(uri: "/api/v1/tasks", method: .post, headers: plain,
                                                       body: ByteBuffer(string: #"{"title":"ok"}"#))
            #expect(unsupported.status == .unsupportedMediaType)
            let unknown = try await client.execute(uri: "/api/v1/nada", method: .get, headers: Self.bearer(token))
            #expect(unknown.status == .notFound)
            #expect(try Self.errorCode(unknown) == "not_found")
            let badID = try await client.execute(uri: "/api/v1/tasks/abc", method: .get, headers: Self.bearer(token))
            #expect(badID.status == .notFound)
        }
        let tasks = try await TaskStore(database: try fixture.services.database.database()).tasks(assignedTo: fixture.ana.id)
        #expect(tasks.count == 1)
        await fixture.tearDown()
    }

    @Test("revoked, expired, and deactivated users' tokens stop working; another user's token id revokes nothing", arguments: TestDatabaseEngine.available)
    func revocation(engine: TestDatabaseEngine) async throws {
        let fixture = try await AppFixture.make(engine: engine)
        let database = try fixture.services.database.database()
        let tokens = APITokenStore(database: database)
        let expired = try await tokens.create(userID: fixture.ana.id, name: "velho", scope: .read, days: 1,
                                              now: Date().addingTimeInterval(-2 * 86_400)).token
        let brunos = try await tokens.create(userID: fixture.bruno.id, name: "do Bruno", scope: .read, days: 30)
        try await PortalApplication.application(services: fixture.services).test(.router) { client in
            #expect(try await client.execute(uri: "/api/v1/me", method: .get, headers: Self.bearer(expired)).status == .unauthorized)

            let cookie = try await SessionPageTests.signIn(client, email: "ana@escritorio.com.br", password: AppFixture.anaPassword, browser: "t")
            let (token, page) = try await Self.createToken(client, cookie: cookie)
            let csrf = try #require(AppRoutesTests.csrfToken(in: page))
            #expect(try await client.execute(uri: "/api/v1/me", method: .get, headers: Self.bearer(token)).status == .ok)

            // Bruno's token id through Ana's session: back to the list, Bruno's token still works.
            let foreign = try await SessionPageTests.post(client, "/tokens/\(brunos.summary.id)/revoke", cookie: cookie, token: csrf)
            #expect(foreign.status == .seeOther)
            #expect(try await client.execute(uri: "/api/v1/me", method: .get, headers: Self.bearer(brunos.token)).status == .ok)

            let own = try #require(try await tokens.tokens(ofUser: fixture.ana.id).first { $0.name == "Planilha" })
            let revoke = try await SessionPageTests.post(client, "/tokens/\(own.id)/revoke", cookie: cookie, token: csrf)
            #expect(revoke.status == .seeOther)
            #expect(try await client.execute(uri: "/api/v1/me", method: .get, headers: Self.bearer(token)).status == .unauthorized)
            let list = String(buffer: try await SessionPageTests.get(client, "/tokens", cookie: cookie).body)
            #expect(list.contains("Revogado em"))
            #expect(list.contains("Expirado"))
            #expect(try await AuditLog(database: database).events(kind: .tokenRevoked).count == 1)

            // Deactivating Bruno kills his token.
            try await AccountStore(database: database).setActive(false, email: "bruno@escritorio.com.br")
            #expect(try await client.execute(uri: "/api/v1/me", method: .get, headers: Self.bearer(brunos.token)).status == .unauthorized)
        }
        #expect(try await tokens.tokens(ofUser: fixture.bruno.id).allSatisfy { $0.revokedAt != nil })
        await fixture.tearDown()
    }

    @Test("each token has its own per-minute allowance: 429 with Retry-After past it", arguments: TestDatabaseEngine.available)
    func perTokenLimit(engine: TestDatabaseEngine) async throws {
        let fixture = try await AppFixture.make(engine: engine) { $0.apiRequestsPerMinutePerToken = 3 }
        let tokens = APITokenStore(database: try fixture.services.database.database())
        let first = try await tokens.create(userID: fixture.ana.id, name: "um", scope: .read, days: 30).token
        let second = try await tokens.create(userID: fixture.ana.id, name: "dois", scope: .read, days: 30).token
        try await PortalApplication.application(services: fixture.services).test(.router) { client in
            for _ in 0..<3 {
                #expect(try await client.execute(uri: "/api/v1/tasks", method: .get, headers: Self.bearer(first)).status == .ok)
            }
            let limited = try await client.execute(uri: "/api/v1/tasks", method: .get, headers: Self.bearer(first))
            #expect(limited.status == .tooManyRequests)
            #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 >= 1)
            #expect(try Self.errorCode(limited) == "rate_limited")
            #expect(try await client.execute(uri: "/api/v1/tasks", method: .get, headers: Self.bearer(second)).status == .ok)
        }
        await fixture.tearDown()
    }

    @Test("the token form refuses bad input with a message and issues nothing", arguments: TestDatabaseEngine.available)
    func tokenFormValidation(engine: TestDatabaseEngine) async throws {
        let fixture = try await AppFixture.make(engine: engine)
        try await PortalApplication.application(services: fixture.services).test(.router) { client in
            let cookie = try await SessionPageTests.signIn(client, email: "ana@escritorio.com.br", password: AppFixture.anaPassword, browser: "t")
            let page = String(buffer: try await SessionPageTests.get(client, "/tokens", cookie: cookie).body)
            let csrf = try #require(AppRoutesTests.csrfToken(in: page))
            for fields in ["&name=&scope=read&days=90", "&name=x&scope=admin&days=90", "&name=x&scope=read&days=9999"] {
                let response = try await SessionPageTests.post(client, "/tokens", cookie: cookie, token: csrf, fields: fields)
                #expect(response.status == .badRequest, "\(fields)")
                #expect(String(buffer: response.body).contains("class=\"erro\""))
            }
            let withoutCSRF = try await client.execute(uri: "/tokens", method: .post,
                                                       headers: [.cookie: cookie, .contentType: "application/x-www-form-urlencoded"],
                                                       body: ByteBuffer(string: "name=x&scope=read&days=90"))
            #expect(withoutCSRF.status == .forbidden)
        }
        #expect(try await APITokenStore(database: try fixture.services.database.database()).tokens(ofUser: fixture.ana.id).isEmpty)
        await fixture.tearDown()
    }
}
