import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PortalApp
import Testing

@Suite("Sessions page: see and revoke one's own sessions", .serialized)
struct SessionPageTests {
    /// Signs in as a fresh browser and returns its session cookie (`name=value`).
    static func signIn(_ client: some TestClientProtocol, email: String, password: String, browser: String) async throws -> String {
        let page = try await AppRoutesTests.openLogin(client)
        var headers = page.headers
        headers[.userAgent] = browser
        let login = try await client.execute(uri: "/login", method: .post, headers: headers,
                                             body: AppRoutesTests.form(email: email, password: password, token: page.token))
        #expect(login.status == .seeOther)
        return try #require(login.headers[.setCookie]?.split(separator: ";").first.map(String.init))
    }

    static func get(_ client: some TestClientProtocol, _ uri: String, cookie: String) async throws -> TestResponse {
        try await client.execute(uri: uri, method: .get, headers: [.cookie: cookie])
    }

    static func post(_ client: some TestClientProtocol, _ uri: String, cookie: String, token: String, fields: String = "")
        async throws -> TestResponse {
        var headers = AppRoutesTests.formHeaders
        headers[.cookie] = cookie
        return try await client.execute(uri: uri, method: .post, headers: headers,
                                        body: ByteBuffer(string: "csrf_token=\(token)" + fields))
    }

    /// The `id` fields of the page's revoke forms, in order.
    static func sessionIDs(in html: String) -> [String] {
        html.components(separatedBy: "name=\"id\" value=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }

    @Test("a user sees only their own live sessions, marks this one, and can end the others")
    func listAndRevoke() async throws {
        let fixture = try await AppFixture.make()
        try await PortalApplication.application(services: fixture.services).test(.router) { client in
            let laptop = try await Self.signIn(client, email: "ana@escritorio.com.br", password: AppFixture.anaPassword, browser: "Notebook <Firefox>")
            let phone = try await Self.signIn(client, email: "ana@escritorio.com.br", password: AppFixture.anaPassword, browser: "Celular Safari")
            let bruno = try await Self.signIn(client, email: "bruno@escritorio.com.br", password: "outra-senha-bem-longa", browser: "Bruno Edge")

            let page = try await Self.get(client, "/sessions", cookie: laptop)
            #expect(page.status == .ok)
            let html = String(buffer: page.body)
            #expect(html.contains("Notebook &lt;Firefox&gt;"))
            #expect(html.contains("Celular Safari"))
            #expect(!html.contains("Bruno Edge"))
            #expect(html.components(separatedBy: "Esta sessão").count == 2)
            #expect(Self.sessionIDs(in: html).count == 2)
            let token = try #require(AppRoutesTests.csrfToken(in: html))

            // Another user's session id changes nothing: the page comes back and Bruno stays signed in.
            let brunoPage = String(buffer: try await Self.get(client, "/sessions", cookie: bruno).body)
            let brunoID = try #require(Self.sessionIDs(in: brunoPage).first)
            let foreign = try await Self.post(client, "/sessions/revoke", cookie: laptop, token: token, fields: "&id=\(brunoID)")
            #expect(foreign.status == .seeOther)
            #expect(foreign.headers[.location] == "/sessions")
            #expect(try await Self.get(client, "/tasks", cookie: bruno).status == .ok)
            let missing = try await Self.post(client, "/sessions/revoke", cookie: laptop, token: token)
            #expect(missing.status == .badRequest)

            // Ending the other sessions logs the phone out and keeps the laptop in.
            let others = try await Self.post(client, "/sessions/revoke-others", cookie: laptop, token: token)
            #expect(others.status == .seeOther)
            #expect(try await Self.get(client, "/tasks", cookie: phone).status == .found)
            #expect(try await Self.get(client, "/tasks", cookie: laptop).status == .ok)
            #expect(try await Self.get(client, "/tasks", cookie: bruno).status == .ok)
        }
        await fixture.tearDown()
    }

    @Test("ending one session by its id, including this one, which signs out")
    func revokeOne() async throws {
        let fixture = try await AppFixture.make()
        try await PortalApplication.application(services: fixture.services).test(.router) { client in
            let laptop = try await Self.signIn(client, email: "ana@escritorio.com.br", password: AppFixture.anaPassword, browser: "Notebook")
            let phone = try await Self.signIn(client, email: "ana@escritorio.com.br", password: AppFixture.anaPassword, browser: "Celular")
            let html = String(buffer: try await Self.get(client, "/sessions", cookie: laptop).body)
            let token = try #require(AppRoutesTests.csrfToken(in: html))
            // Rows are newest activity first: the phone signed in last.
            let ids = Self.sessionIDs(in: html)
            #expect(ids.count == 2)
            let phoneRow = try #require(html.range(of: "Celular"))
            let laptopRow = try #require(html.range(of: "<td>Notebook"))
            let phoneID = try #require(phoneRow.lowerBound < laptopRow.lowerBound ? ids.first : ids.last)
            let laptopID = try #require(phoneRow.lowerBound < laptopRow.lowerBound ? ids.last : ids.first)

            // A forged form without this session's token changes nothing.
            let forged = try await Self.post(client, "/sessions/revoke", cookie: laptop, token: "x", fields: "&id=\(phoneID)")
            #expect(forged.status == .forbidden)
            #expect(try await Self.get(client, "/tasks", cookie: phone).status == .ok)

            let revoked = try await Self.post(client, "/sessions/revoke", cookie: laptop, token: token, fields: "&id=\(phoneID)")
            #expect(revoked.status == .seeOther)
            #expect(revoked.headers[.location] == "/sessions")
            #expect(try await Self.get(client, "/tasks", cookie: phone).status == .found)

            let own = try await Self.post(client, "/sessions/revoke", cookie: laptop, token: token, fields: "&id=\(laptopID)")
            #expect(own.status == .seeOther)
            #expect(own.headers[.location] == "/login")
            #expect(own.headers[.setCookie]?.contains("Max-Age=0") == true)
            #expect(try await Self.get(client, "/tasks", cookie: laptop).status == .found)
            // Without a session the page sends to login.
            #expect(try await Self.get(client, "/sessions", cookie: laptop).headers[.location] == "/login?next=/sessions")
        }
        await fixture.tearDown()
    }
}
