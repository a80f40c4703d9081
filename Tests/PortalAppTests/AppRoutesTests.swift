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
            let wrong = try await client.execute(uri: "/login", method: .post, headers: Self.formHeaders,
                                                 body: Self.form(email: "ana@escritorio.com.br", password: "errada-mas-longa"))
            let unknown = try await client.execute(uri: "/login", method: .post, headers: Self.formHeaders,
                                                   body: Self.form(email: "ninguem@escritorio.com.br", password: "errada-mas-longa"))
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
            var headers = Self.formHeaders
            headers[HTTPField.Name("X-Forwarded-Proto")!] = "https"
            headers[HTTPField.Name("X-Forwarded-For")!] = "203.0.113.10"
            let login = try await client.execute(uri: "/login", method: .post, headers: headers,
                                                 body: Self.form(email: "Ana@Escritorio.com.br ", password: AppFixture.anaPassword))
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
            var again = headers
            again[.cookie] = token
            let relogin = try await client.execute(uri: "/login", method: .post, headers: again,
                                                   body: Self.form(email: "ana@escritorio.com.br", password: AppFixture.anaPassword))
            let newToken = try #require(relogin.headers[.setCookie]?.split(separator: ";").first.map(String.init))
            #expect(newToken != token)
            let stale = try await client.execute(uri: "/tasks", method: .get, headers: [.cookie: token])
            #expect(stale.status == .found)
            let fresh = try await client.execute(uri: "/tasks", method: .get, headers: [.cookie: newToken])
            #expect(fresh.status == .ok)

            let logout = try await client.execute(uri: "/logout", method: .post, headers: [.cookie: newToken])
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
            var headers = Self.formHeaders
            headers[HTTPField.Name("X-Forwarded-Proto")!] = "https"
            let login = try await client.execute(uri: "/login", method: .post, headers: headers,
                                                 body: Self.form(email: "ana@escritorio.com.br", password: AppFixture.anaPassword))
            #expect(login.status == .seeOther)
            let cookie = try #require(login.headers[.setCookie])
            #expect(!cookie.contains("Secure"))
        }
        await fixture.tearDown()
    }

    @Test("login never redirects to another site", arguments: ["//evil.example/", "https://evil.example/", "/\\evil", "tasks"])
    func safeNext(next: String) async throws {
        let fixture = try await AppFixture.make()
        try await application(fixture).test(.router) { client in
            let encoded = next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let body = ByteBuffer(string: "email=ana%40escritorio.com.br&password=\(AppFixture.anaPassword)&next=\(encoded)")
            let login = try await client.execute(uri: "/login", method: .post, headers: Self.formHeaders, body: body)
            #expect(login.status == .seeOther)
            #expect(login.headers[.location] == "/tasks")
        }
        await fixture.tearDown()
    }

    @Test("a login form that is not a form is refused cleanly")
    func malformedForm() async throws {
        let fixture = try await AppFixture.make()
        try await application(fixture).test(.router) { client in
            let response = try await client.execute(uri: "/login", method: .post, headers: Self.formHeaders,
                                                    body: ByteBuffer(string: "email=%ZZ&password"))
            #expect(response.status == .badRequest || response.status == .unauthorized)
            let empty = try await client.execute(uri: "/login", method: .post, headers: Self.formHeaders,
                                                 body: ByteBuffer(string: "email=&password="))
            #expect(empty.status == .badRequest)
        }
        await fixture.tearDown()
    }

    static let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    static func form(email: String, password: String) -> ByteBuffer {
        let allowed = CharacterSet.alphanumerics
        let e = email.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        let p = password.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        return ByteBuffer(string: "email=\(e)&password=\(p)")
    }
}
