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

@Suite("App routes: health, login, tasks", .serialized)
struct AppRoutesTests {
    private func application(_ fixture: AppFixture) throws -> some ApplicationProtocol {
        try PortalApplication.application(services: fixture.services)
    }

    @Test("/health reports ok with the version")
    func healthOK() async throws {
        let fixture = try await AppFixture.make()
        try await application(fixture).test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                #expect(String(buffer: response.body) == #"{"status":"ok","version":"\#(PortalVersion.current)","database":"ok"}"#)
            }
            try await client.execute(uri: "/health", method: .head) { response in
                #expect(response.status == .ok)
                #expect(response.body.readableBytes == 0)
            }
        }
        await fixture.tearDown()
    }

    @Test("/health answers 503 when the database is gone")
    func healthDatabaseDown() async throws {
        let fixture = try await AppFixture.make()
        await fixture.database.shutdown()
        try await application(fixture).test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(String(buffer: response.body).contains(#""database":"error""#))
            }
        }
        fixture.directory.remove()
    }

    @Test("anonymous /tasks goes to the login page")
    func anonymousRedirect() async throws {
        let fixture = try await AppFixture.make()
        try await application(fixture).test(.router) { client in
            try await client.execute(uri: "/tasks", method: .get) { response in
                #expect(response.status == .found)
                #expect(response.headers[.location] == "/login?next=/tasks")
            }
            try await client.execute(uri: "/login", method: .get) { response in
                #expect(response.status == .ok)
                let html = String(buffer: response.body)
                #expect(html.contains(#"name="email""#))
                #expect(html.contains(#"name="password""#))
                #expect(html.contains("Entrar"))
            }
        }
        await fixture.tearDown()
    }

    @Test("wrong password and unknown e-mail get the same answer")
    func failedLogin() async throws {
        let fixture = try await AppFixture.make()
        try await application(fixture).test(.router) { client in
            let login = try await Self.openLogin(client)
            let wrong = try await client.execute(uri: "/login", method: .post, headers: login.headers,
                                                 body: Self.form(email: "ana@escritorio.com.br", password: "errada-mas-longa", token: login.token))
            let unknown = try await client.execute(uri: "/login", method: .post, headers: login.headers,
                                                   body: Self.form(email: "ninguem@escritorio.com.br", password: "errada-mas-longa", token: login.token))
            #expect(wrong.status == .unauthorized)
            #expect(unknown.status == .unauthorized)
            #expect(String(buffer: wrong.body).contains("E-mail ou senha inválidos."))
            #expect(String(buffer: unknown.body).contains("E-mail ou senha inválidos."))
            #expect(wrong.headers[.setCookie] == nil)
        }
        await fixture.tearDown()
    }

    @Test("login through the trusted edge sets a Secure HttpOnly SameSite=Lax cookie and shows only own tasks, escaped")
    func loginAndTasks() async throws {
        let fixture = try await AppFixture.make()
        try await application(fixture).test(.live) { client in
            let page = try await Self.openLogin(client)
            var headers = page.headers
            headers[HTTPField.Name("X-Forwarded-Proto")!] = "https"
            headers[HTTPField.Name("X-Forwarded-For")!] = "203.0.113.10"
            let login = try await client.execute(uri: "/login", method: .post, headers: headers,
                                                 body: Self.form(email: "Ana@Escritorio.com.br ", password: AppFixture.anaPassword,
                                                                 token: page.token))
            #expect(login.status == .seeOther)
            #expect(login.headers[.location] == "/tasks")
            let cookie = try #require(login.headers[.setCookie])
            #expect(cookie.contains("HttpOnly"))
            #expect(cookie.contains("SameSite=Lax"))
            #expect(cookie.contains("Secure"))
            let token = try #require(cookie.split(separator: ";").first.map(String.init))
            #expect(token.count > "portal_session=".count + 40)

            let tasks = try await client.execute(uri: "/tasks", method: .get, headers: [.cookie: token])
            #expect(tasks.status == .ok)
            let html = String(buffer: tasks.body)
            #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; Revisar relatório"))
            #expect(!html.contains("<script>alert(1)</script>"))
            #expect(html.contains("Balancete &amp; DRE"))
            #expect(html.contains("Ana &lt;Contadora&gt;"))
            #expect(!html.contains("Tarefa do Bruno"))

            // Signing in again from the same browser replaces the session (no fixation).
            let sessionToken = try #require(Self.csrfToken(in: html))
            var again = headers
            again[.cookie] = token
            let relogin = try await client.execute(uri: "/login", method: .post, headers: again,
                                                   body: Self.form(email: "ana@escritorio.com.br", password: AppFixture.anaPassword,
                                                                   token: sessionToken))
            let newToken = try #require(relogin.headers[.setCookie]?.split(separator: ";").first.map(String.init))
            #expect(newToken != token)
            let stale = try await client.execute(uri: "/tasks", method: .get, headers: [.cookie: token])
            #expect(stale.status == .found)
            let fresh = try await client.execute(uri: "/tasks", method: .get, headers: [.cookie: newToken])
            #expect(fresh.status == .ok)

            let freshHTML = String(buffer: fresh.body)
            let logoutToken = try #require(Self.csrfToken(in: freshHTML))
            let forged = try await client.execute(uri: "/logout", method: .post, headers: [.cookie: newToken])
            #expect(forged.status == .forbidden)
            #expect(String(buffer: forged.body).contains("A verificação de segurança do formulário falhou"))
            var logoutHeaders = Self.formHeaders
            logoutHeaders[.cookie] = newToken
            let logout = try await client.execute(uri: "/logout", method: .post, headers: logoutHeaders,
                                                  body: ByteBuffer(string: "csrf_token=\(logoutToken)"))
            #expect(logout.status == .seeOther)
            let after = try await client.execute(uri: "/tasks", method: .get, headers: [.cookie: newToken])
            #expect(after.status == .found)
        }
        await fixture.tearDown()
    }

    @Test("a client that is not a trusted proxy cannot claim HTTPS")
    func untrustedForwardedProto() async throws {
        let fixture = try await AppFixture.make { $0.trustedProxies = ["10.9.9.9"] }
        try await application(fixture).test(.live) { client in
            let page = try await Self.openLogin(client)
            var headers = page.headers
            headers[HTTPField.Name("X-Forwarded-Proto")!] = "https"
            let login = try await client.execute(uri: "/login", method: .post, headers: headers,
                                                 body: Self.form(email: "ana@escritorio.com.br", password: AppFixture.anaPassword,
                                                                 token: page.token))
            #expect(login.status == .seeOther)
            let cookie = try #require(login.headers[.setCookie])
            #expect(!cookie.contains("Secure"))
        }
        await fixture.tearDown()
    }

    @Test("login never redirects to another site", arguments: ["//evil.example/", "https://evil.example/", "/\\evil", "tasks", "/\t/evil.example", "/\u{7F}/evil"])
    func safeNext(next: String) async throws {
        let fixture = try await AppFixture.make()
        try await application(fixture).test(.router) { client in
            let page = try await Self.openLogin(client)
            let encoded = next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let body = ByteBuffer(string: "email=ana%40escritorio.com.br&password=\(AppFixture.anaPassword)&next=\(encoded)&csrf_token=\(page.token)")
            let login = try await client.execute(uri: "/login", method: .post, headers: page.headers, body: body)
            #expect(login.status == .seeOther)
            #expect(login.headers[.location] == "/tasks")
        }
        await fixture.tearDown()
    }

    @Test("a login form that is not a form is refused cleanly")
    func malformedForm() async throws {
        let fixture = try await AppFixture.make()
        try await application(fixture).test(.router) { client in
            let page = try await Self.openLogin(client)
            let response = try await client.execute(uri: "/login", method: .post, headers: page.headers,
                                                    body: ByteBuffer(string: "csrf_token=\(page.token)&email=%ZZ&password"))
            #expect(response.status == .badRequest || response.status == .unauthorized)
            let empty = try await client.execute(uri: "/login", method: .post, headers: page.headers,
                                                 body: ByteBuffer(string: "csrf_token=\(page.token)&email=&password="))
            #expect(empty.status == .badRequest)
        }
        await fixture.tearDown()
    }

    static let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    /// What a browser has after opening the login page: the pre-session cookie and the form's token.
    struct LoginPage {
        let cookie: String
        let token: String

        var headers: HTTPFields {
            var headers = AppRoutesTests.formHeaders
            headers[.cookie] = cookie
            return headers
        }
    }

    static func openLogin(_ client: some TestClientProtocol) async throws -> LoginPage {
        let page = try await client.execute(uri: "/login", method: .get)
        let cookie = try #require(page.headers[.setCookie]?.split(separator: ";").first.map(String.init))
        return LoginPage(cookie: cookie, token: try #require(csrfToken(in: String(buffer: page.body))))
    }

    /// The `csrf_token` value of the first form in `html`.
    static func csrfToken(in html: String) -> String? {
        guard let field = html.range(of: "name=\"csrf_token\" value=\"") else { return nil }
        return String(html[field.upperBound...].prefix { $0 != "\"" })
    }

    static func form(email: String, password: String, token: String? = nil) -> ByteBuffer {
        let allowed = CharacterSet.alphanumerics
        let e = email.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        let p = password.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        let t = token.map { "&csrf_token=\($0.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" } ?? ""
        return ByteBuffer(string: "email=\(e)&password=\(p)\(t)")
    }

    @Test("login without the form's token, with another session's token, or from another site is refused")
    func csrf() async throws {
        let fixture = try await AppFixture.make()
        try await application(fixture).test(.router) { client in
            let page = try await Self.openLogin(client)
            let other = try await Self.openLogin(client)
            let missing = try await client.execute(uri: "/login", method: .post, headers: page.headers,
                                                   body: Self.form(email: "ana@escritorio.com.br", password: AppFixture.anaPassword))
            let swapped = try await client.execute(uri: "/login", method: .post, headers: page.headers,
                                                   body: Self.form(email: "ana@escritorio.com.br", password: AppFixture.anaPassword,
                                                                   token: other.token))
            var crossSite = page.headers
            crossSite[HTTPField.Name("Origin")!] = "https://evil.example"
            crossSite[HTTPField.Name("Host")!] = "portal.example.com.br"
            let foreign = try await client.execute(uri: "/login", method: .post, headers: crossSite,
                                                   body: Self.form(email: "ana@escritorio.com.br", password: AppFixture.anaPassword,
                                                                   token: page.token))
            var headerToken = page.headers
            headerToken[HTTPField.Name("X-CSRF-Token")!] = page.token
            let viaHeader = try await client.execute(uri: "/login", method: .post, headers: headerToken,
                                                     body: Self.form(email: "ana@escritorio.com.br", password: AppFixture.anaPassword))
            #expect(missing.status == .forbidden)
            #expect(swapped.status == .forbidden)
            #expect(foreign.status == .forbidden)
            #expect(viaHeader.status == .seeOther)
            #expect(String(buffer: missing.body).contains("Acesso negado"))
        }
        await fixture.tearDown()
    }
}
