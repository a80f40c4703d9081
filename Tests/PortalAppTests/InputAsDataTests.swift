import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PortalApp
import PortalData
import Testing

/// The seed's "input validation" line: SQL metacharacters and markup typed by users stay data.
/// Every query is built by FluentKit with bound parameters, and every page escapes what it shows.
@Suite("Input stays data: no SQL injection, no markup injection")
struct InputAsDataTests {
    static let hostile = #"x' OR '1'='1'; DROP TABLE users; -- <img src=x onerror=alert(1)>"#

    @Test("SQL and markup in a login, a task and an audit search are stored and shown as typed")
    func hostileInput() async throws {
        try await AppFixture.with(configure: { _ in }) { fixture in
            let database = try fixture.services.database.database()
            let token = try await APITokenStore(database: database).create(userID: fixture.ana.id, name: "t", scope: .readWrite, days: 1).token
            try await PortalApplication.application(services: fixture.services).test(.router) { client in
                let page = try await AppRoutesTests.openLogin(client)
                let login = try await client.execute(uri: "/login", method: .post, headers: page.headers,
                                                     body: AppRoutesTests.form(email: "' OR '1'='1", password: "' OR '1'='1", token: page.token))
                #expect(login.status == .unauthorized)
                #expect(login.headers[.setCookie]?.contains("portal_session=") != true)

                let body = try JSONSerialization.data(withJSONObject: ["title": Self.hostile, "details": Self.hostile])
                let created = try await client.execute(uri: "/api/v1/tasks", method: .post, headers: APITokenTests.bearer(token),
                                                       body: ByteBuffer(bytes: body))
                #expect(created.status == .created)
                #expect(try APITokenTests.json(created)["title"] as? String == Self.hostile)

                let cookie = try await SessionPageTests.signIn(client, email: "ana@escritorio.com.br", password: AppFixture.anaPassword, browser: "t")
                let html = String(buffer: try await SessionPageTests.get(client, "/tasks", cookie: cookie).body)
                #expect(!html.contains("<img src=x"))
                #expect(html.contains("&lt;img src=x onerror=alert(1)&gt;"))
            }
            #expect(try await AccountStore(database: database).users().count == 2)
            let search = try await AuditLog(database: database).events(containing: "%' OR 1=1 --")
            #expect(search.isEmpty)
        }
    }
}
