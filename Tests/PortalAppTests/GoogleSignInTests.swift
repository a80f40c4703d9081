import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PortalApp
import PortalCore
import PortalData
import Testing

/// Sign-in with Google against a real OpenID provider running in the test process.
@Suite("Google sign-in (OpenID Connect with PKCE)", .serialized)
struct GoogleSignInTests {
    static let callback = "https://portal.test/auth/google/callback"

    struct Attempt {
        let start: TestResponse
        let authorizeQuery: String
        let callback: TestResponse
        var sessionCookie: String? {
            callback.headers[values: .setCookie].first { $0.hasPrefix("portal_session=") && !$0.hasPrefix("portal_session=;") }
                .flatMap { $0.split(separator: ";").first.map(String.init) }
        }
    }

    /// The whole browser round trip: portal → provider's authorize → portal's callback.
    static func attempt(_ portal: some TestClientProtocol, _ provider: any TestClientProtocol, issuer: String,
                        next: String = "/tasks", tamperState: Bool = false, dropCookie: Bool = false) async throws -> Attempt {
        let start = try await portal.execute(uri: "/auth/google?next=\(next)", method: .get)
        #expect(start.status == .found)
        let location = try #require(start.headers[.location])
        #expect(location.hasPrefix(issuer + "/authorize?"))
        let flowCookie = try #require(start.headers[values: .setCookie].first { $0.hasPrefix("portal_oidc=") })
        #expect(flowCookie.contains("HttpOnly"))
        #expect(flowCookie.contains("SameSite=Lax"))
        let query = String(location.dropFirst((issuer + "/authorize?").count))
        let authorized = try await provider.execute(uri: "/authorize?" + query, method: .get, headers: [:], body: nil)
        let back = try #require(authorized.headers[.location])
        #expect(back.hasPrefix(callback + "?"))
        var path = String(back.dropFirst("https://portal.test".count))
        if tamperState { path = path.replacingOccurrences(of: "state=", with: "state=x") }
        var headers: HTTPFields = [:]
        if !dropCookie { headers[.cookie] = String(flowCookie.split(separator: ";")[0]) }
        let response = try await portal.execute(uri: path, method: .get, headers: headers)
        return Attempt(start: start, authorizeQuery: query, callback: response)
    }

    static func withPortal(createUsers: Bool = false, domains: [String] = ["escritorio.com.br"],
                           _ body: @escaping @Sendable (TestOpenIDProvider, AppFixture, any TestClientProtocol, any TestClientProtocol, String) async throws -> Void)
        async throws {
        let provider = try await TestOpenIDProvider()
        try await provider.run { issuer, providerClient in
            try await AppFixture.with(googleClientSecret: TestOpenIDProvider.clientSecret, configure: {
                $0.google.clientID = TestOpenIDProvider.clientID
                $0.google.issuer = issuer
                $0.google.allowedDomains = domains
                $0.google.createUsers = createUsers
                $0.google.redirectURL = callback
            }) { fixture in
                try await PortalApplication.application(services: fixture.services).test(.router) { client in
                    try await body(provider, fixture, client, providerClient, issuer)
                }
            }
        }
    }

    @Test("a verified office account signs in: PKCE S256, state and nonce sent, session started, audited")
    func success() async throws {
        try await Self.withPortal { provider, fixture, client, providerClient, issuer in
            let login = String(buffer: try await client.execute(uri: "/login", method: .get).body)
            #expect(login.contains("Entrar com Google"))

            let attempt = try await Self.attempt(client, providerClient, issuer: issuer, next: "/companies")
            let query = try #require(provider.authorizeQueries.last)
            #expect(query["code_challenge_method"] == "S256")
            #expect(query["code_challenge"]?.count == 43)
            #expect((query["state"]?.count ?? 0) >= 43)
            #expect((query["nonce"]?.count ?? 0) >= 43)
            #expect(query["scope"] == "openid email profile")
            #expect(query["hd"] == "escritorio.com.br")
            #expect(query["redirect_uri"] == Self.callback)
            #expect(!attempt.authorizeQuery.contains(TestOpenIDProvider.clientSecret))
            // The verifier went to the token endpoint only, with the secret in the form body.
            let form = try #require(provider.tokenForms.last)
            #expect(form["code_verifier"]?.isEmpty == false)
            #expect(form["client_secret"] == TestOpenIDProvider.clientSecret)

            #expect(attempt.callback.status == .found)
            #expect(attempt.callback.headers[.location] == "/companies")
            let cookie = try #require(attempt.sessionCookie)
            #expect(try await SessionPageTests.get(client, "/tasks", cookie: cookie).status == .ok)
            #expect(attempt.callback.headers[values: .setCookie].contains { $0.hasPrefix("portal_oidc=;") || $0.contains("Max-Age=0") })
            let events = try await AuditLog(database: fixture.services.database.database()).events(kind: .loginSucceeded)
            #expect(events.first?.detail == "Google")
            #expect(events.first?.userID == fixture.ana.id)
        }
    }

    @Test("an account with no user is refused with a clear page, and audited")
    func unknownAccount() async throws {
        try await Self.withPortal { provider, fixture, client, providerClient, issuer in
            provider.set { $0.email = "estranho@escritorio.com.br" }
            let attempt = try await Self.attempt(client, providerClient, issuer: issuer)
            #expect(attempt.callback.status == .forbidden)
            #expect(String(buffer: attempt.callback.body).contains("não está cadastrada no Portal"))
            #expect(attempt.sessionCookie == nil)
            let failed = try await AuditLog(database: fixture.services.database.database()).events(kind: .loginFailed)
            #expect(failed.first?.email == "estranho@escritorio.com.br")
            #expect(try await AccountStore(database: fixture.services.database.database()).user(email: "estranho@escritorio.com.br") == nil)
        }
    }

    @Test("with create_users, a verified office account becomes a colaborador")
    func createsUser() async throws {
        try await Self.withPortal(createUsers: true) { provider, fixture, client, providerClient, issuer in
            provider.set { $0.email = "nova@escritorio.com.br"; $0.name = "Nova Pessoa" }
            let attempt = try await Self.attempt(client, providerClient, issuer: issuer)
            #expect(attempt.callback.status == .found)
            #expect(attempt.sessionCookie != nil)
            let created = try await AccountStore(database: fixture.services.database.database()).user(email: "nova@escritorio.com.br")
            #expect(created?.role == .colaborador)
            #expect(created?.name == "Nova Pessoa")
        }
    }

    @Test("a deactivated user cannot come back through Google")
    func deactivated() async throws {
        try await Self.withPortal { _, fixture, client, providerClient, issuer in
            try await AccountStore(database: fixture.services.database.database()).setActive(false, email: "ana@escritorio.com.br")
            let attempt = try await Self.attempt(client, providerClient, issuer: issuer)
            #expect(attempt.callback.status == .forbidden)
            #expect(attempt.sessionCookie == nil)
        }
    }

    @Test("a wrong state or a missing flow cookie is refused")
    func flowChecks() async throws {
        try await Self.withPortal { _, _, client, providerClient, issuer in
            let forged = try await Self.attempt(client, providerClient, issuer: issuer, tamperState: true)
            #expect(forged.callback.status == .badRequest)
            #expect(forged.sessionCookie == nil)
            let noCookie = try await Self.attempt(client, providerClient, issuer: issuer, dropCookie: true)
            #expect(noCookie.callback.status == .badRequest)
            #expect(noCookie.sessionCookie == nil)
            #expect(String(buffer: noCookie.callback.body).contains("Comece de novo"))
        }
    }

    @Test("ID tokens failing a check are refused", arguments: [
        "audience", "issuer", "expired", "nonce", "stranger key", "unsigned", "e-mail not verified",
        "other domain", "no domain", "issued in the future",
    ])
    func spoiledTokens(_ spoil: String) async throws {
        try await Self.withPortal { provider, _, client, providerClient, issuer in
            provider.set { behaviour in
                switch spoil {
                case "audience": behaviour.audience = ["another-client"]
                case "issuer": behaviour.issuer = "https://accounts.google.com"
                case "expired": behaviour.issuedAgo = 400; behaviour.expiresIn = 200
                case "nonce": behaviour.nonce = "replayed-nonce"
                case "stranger key": behaviour.signWithStrangerKey = true
                case "unsigned": behaviour.unsigned = true
                case "e-mail not verified": behaviour.emailVerified = false
                case "other domain": behaviour.hostedDomain = "gmail.com"
                case "no domain": behaviour.hostedDomain = nil
                default: behaviour.issuedAgo = -3600
                }
            }
            let attempt = try await Self.attempt(client, providerClient, issuer: issuer)
            #expect(attempt.sessionCookie == nil, "\(spoil)")
            #expect([.badRequest, .forbidden].contains(attempt.callback.status), "\(spoil): \(attempt.callback.status)")
            #expect(String(buffer: attempt.callback.body).contains("class=\"erro\""), "\(spoil)")
        }
    }

    @Test("with no allowed domains, only addresses Google vouches for sign in", arguments: [
        ("ana@escritorio.com.br", nil, false),                   // a personal Google account opened with an office address
        ("ana@escritorio.com.br", "outro.com.br", false),        // a Workspace account of another domain
        ("ana@escritorio.com.br", "escritorio.com.br", true),    // the office's own Workspace
    ] as [(String, String?, Bool)])
    func withoutAllowedDomains(_ email: String, _ hostedDomain: String?, _ accepted: Bool) async throws {
        try await Self.withPortal(domains: []) { provider, _, client, providerClient, issuer in
            provider.set { $0.email = email; $0.hostedDomain = hostedDomain }
            let attempt = try await Self.attempt(client, providerClient, issuer: issuer)
            #expect((attempt.sessionCookie != nil) == accepted, "\(email) hd=\(hostedDomain ?? "none")")
        }
    }

    @Test("without a client id there is no Google button and /auth/google is 404")
    func disabled() async throws {
        let fixture = try await AppFixture.make()
        try await PortalApplication.application(services: fixture.services).test(.router) { client in
            let login = try await client.execute(uri: "/login", method: .get)
            #expect(!String(buffer: login.body).contains("Entrar com Google"))
            let start = try await client.execute(uri: "/auth/google", method: .get)
            #expect(start.status == .notFound)
        }
        await fixture.tearDown()
    }

    @Test("the sealed flow cookie cannot be read or altered", arguments: [0, 1, 2])
    func sealedFlowCookie(_ byte: Int) async throws {
        try await Self.withPortal { _, _, client, _, _ in
            let start = try await client.execute(uri: "/auth/google", method: .get)
            let cookie = try #require(start.headers[values: .setCookie].first { $0.hasPrefix("portal_oidc=") })
            var value = Array(String(cookie.split(separator: ";")[0].dropFirst("portal_oidc=".count)))
            #expect(!String(value).contains("tasks"))
            value[byte * 7] = value[byte * 7] == "A" ? "B" : "A"
            let state = try #require(start.headers[.location]?.components(separatedBy: "state=").last?.prefix { $0 != "&" })
            let response = try await client.execute(uri: "/auth/google/callback?code=x&state=\(state)", method: .get,
                                                    headers: [.cookie: "portal_oidc=" + String(value)])
            #expect(response.status == .badRequest)
        }
    }
}
