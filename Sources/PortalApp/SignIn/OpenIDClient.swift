import AsyncHTTPClient
import Foundation
import JWTKit
import NIOCore
import NIOHTTP1
import PortalCore

/// The relying-party side of OpenID Connect (authorization code flow with PKCE): reads the
/// provider's discovery document and keys, builds the authorization URL, exchanges the code for
/// an ID token and verifies it. Discovery and keys are cached; keys are read again when a token
/// names a key the cache does not have (providers rotate them).
actor OpenIDClient {
    struct Discovery: Decodable, Sendable {
        let issuer: String
        let authorizationEndpoint: String
        let tokenEndpoint: String
        let jwksUri: String

        enum CodingKeys: String, CodingKey {
            case issuer
            case authorizationEndpoint = "authorization_endpoint"
            case tokenEndpoint = "token_endpoint"
            case jwksUri = "jwks_uri"
        }
    }

    /// Who the verified token says signed in.
    struct Identity: Sendable, Equatable {
        let subject: String
        let email: String
        let name: String?
        let hostedDomain: String?
    }

    let settings: GoogleSignInSettings
    let clientID: String
    private let clientSecret: String
    private var discovery: (value: Discovery, fetched: Date)?
    private var keys: (collection: JWTKeyCollection, fetched: Date)?

    static let discoveryLifetime: TimeInterval = 3600
    static let keysLifetime: TimeInterval = 3600
    /// Keys are fetched again on an unknown key id at most this often.
    static let keysRefreshFloor: TimeInterval = 60
    static let timeout = TimeAmount.seconds(10)
    static let maxResponseBytes = 1 << 20

    init(settings: GoogleSignInSettings, clientID: String, clientSecret: String) {
        self.settings = settings
        self.clientID = clientID
        self.clientSecret = clientSecret
    }

    /// Where to send the browser: the provider's authorization endpoint with our parameters.
    func authorizationURL(redirectURI: String, state: String, nonce: String, codeChallenge: String) async throws -> String {
        let endpoint = try await discover().authorizationEndpoint
        var items = [
            ("response_type", "code"), ("client_id", clientID), ("redirect_uri", redirectURI),
            ("scope", "openid email profile"), ("state", state), ("nonce", nonce),
            ("code_challenge", codeChallenge), ("code_challenge_method", "S256"), ("prompt", "select_account"),
        ]
        if settings.allowedDomains.count == 1, let domain = settings.allowedDomains.first { items.append(("hd", domain)) }
        let query = items.map { "\($0)=\(Self.formEncode($1))" }.joined(separator: "&")
        return endpoint + (endpoint.contains("?") ? "&" : "?") + query
    }

    /// Trades the authorization code for the provider's ID token (client secret in the form body).
    func exchange(code: String, codeVerifier: String, redirectURI: String) async throws -> String {
        let endpoint = try await discover().tokenEndpoint
        let form = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI),
            ("client_id", clientID), ("client_secret", clientSecret), ("code_verifier", codeVerifier),
        ].map { "\($0)=\(Self.formEncode($1))" }.joined(separator: "&")
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(string: form))
        let (status, body) = try await Self.send(request)
        struct TokenResponse: Decodable {
            let idToken: String?
            let error: String?
            enum CodingKeys: String, CodingKey {
                case idToken = "id_token"
                case error
            }
        }
        let decoded = try? JSONDecoder().decode(TokenResponse.self, from: body)
        guard status == .ok, let idToken = decoded?.idToken else {
            throw SignInError(.provider, "token endpoint answered \(status.code)\(decoded?.error.map { " (\($0))" } ?? "")")
        }
        return idToken
    }

    /// Checks the ID token: signature by a key of the provider, then issuer, audience (and
    /// authorized party), issue time, nonce, verified e-mail and, when configured, the domain.
    func verify(idToken: String, nonce: String, now: Date = Date()) async throws -> Identity {
        let claims: IDTokenClaims
        do {
            claims = try await verifiedClaims(idToken)
        } catch let error as SignInError {
            throw error
        } catch {
            throw SignInError(.token, "ID token rejected: \(error)")
        }
        guard claims.issuer.value == settings.issuer else {
            throw SignInError(.token, "ID token issuer \(claims.issuer.value) is not \(settings.issuer)")
        }
        guard claims.audience.value.contains(clientID) else { throw SignInError(.token, "ID token was issued for another client") }
        if claims.audience.value.count > 1 || claims.authorizedParty != nil, claims.authorizedParty != clientID {
            throw SignInError(.token, "ID token names another authorized party (azp)")
        }
        let issued = claims.issuedAt.value
        guard issued <= now.addingTimeInterval(IDTokenClaims.leeway), issued >= now.addingTimeInterval(-600) else {
            throw SignInError(.token, "ID token issue time \(issued) is out of range")
        }
        guard let tokenNonce = claims.nonce, Self.constantTimeEqual(tokenNonce, nonce) else {
            throw SignInError(.token, "ID token nonce does not match this sign-in")
        }
        guard let email = claims.email?.lowercased(), claims.emailVerified?.value == true else {
            throw SignInError(.account, "Sua conta Google não tem um e-mail verificado.")
        }
        let emailDomain = email.split(separator: "@").last.map(String.init) ?? ""
        if !settings.allowedDomains.isEmpty {
            let allowed = Set(settings.allowedDomains.map { $0.lowercased() })
            guard let domain = claims.hostedDomain?.lowercased(), allowed.contains(domain) else {
                throw SignInError(.account, "Entre com uma conta Google do escritório (\(settings.allowedDomains.joined(separator: ", "))).")
            }
        } else if !Self.googleOwns(emailDomain, hostedDomain: claims.hostedDomain) {
            // A personal Google account can carry any address it was opened with; only Gmail
            // addresses and Workspace accounts of the address's own domain are Google's to vouch for.
            throw SignInError(.account, "Esta conta Google não comprova o e-mail \(email). Entre com a conta Google do escritório.")
        }
        return Identity(subject: claims.subject.value, email: email, name: claims.name, hostedDomain: claims.hostedDomain)
    }

    private func verifiedClaims(_ idToken: String) async throws -> IDTokenClaims {
        let collection = try await keyCollection(forceRefresh: false)
        do {
            return try await collection.verify(idToken, as: IDTokenClaims.self)
        } catch let error as JWTError where error.errorType == .unknownKID {
            guard let fetched = keys?.fetched, Date().timeIntervalSince(fetched) >= Self.keysRefreshFloor else { throw error }
            return try await keyCollection(forceRefresh: true).verify(idToken, as: IDTokenClaims.self)
        }
    }

    private func discover() async throws -> Discovery {
        if let discovery, Date().timeIntervalSince(discovery.fetched) < Self.discoveryLifetime { return discovery.value }
        let url = settings.issuer.hasSuffix("/") ? settings.issuer + ".well-known/openid-configuration"
                                                 : settings.issuer + "/.well-known/openid-configuration"
        let document = try await Self.getJSON(Discovery.self, from: url, what: "discovery document")
        guard document.issuer == settings.issuer else {
            throw SignInError(.provider, "discovery document names issuer \(document.issuer), expected \(settings.issuer)")
        }
        for endpoint in [document.authorizationEndpoint, document.tokenEndpoint, document.jwksUri]
            where !ProviderURL.isSecureOrLoopback(endpoint) {
            throw SignInError(.provider, "discovery document endpoint \(endpoint) is neither https nor loopback")
        }
        discovery = (document, Date())
        return document
    }

    private func keyCollection(forceRefresh: Bool) async throws -> JWTKeyCollection {
        if !forceRefresh, let keys, Date().timeIntervalSince(keys.fetched) < Self.keysLifetime { return keys.collection }
        let jwks = try await Self.getJSON(JWKS.self, from: try await discover().jwksUri, what: "key set")
        let collection = JWTKeyCollection()
        do {
            try await collection.add(jwks: jwks)
        } catch {
            throw SignInError(.provider, "key set is not usable: \(error)")
        }
        keys = (collection, Date())
        return collection
    }

    private static func getJSON<T: Decodable>(_ type: T.Type, from url: String, what: String) async throws -> T {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        let (status, body) = try await send(request)
        guard status == .ok else { throw SignInError(.provider, "\(what) at \(url) answered \(status.code)") }
        do {
            return try JSONDecoder().decode(T.self, from: body)
        } catch {
            throw SignInError(.provider, "\(what) at \(url) is not valid: \(error)")
        }
    }

    private static func send(_ request: HTTPClientRequest) async throws -> (HTTPResponseStatus, Data) {
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: maxResponseBytes)
            return (response.status, Data(body.readableBytesView))
        } catch let error as SignInError {
            throw error
        } catch {
            throw SignInError(.provider, "request to \(request.url) failed: \(error)")
        }
    }

    /// True when Google is the authority for an address in `domain`: Gmail, or a Workspace
    /// account whose hosted domain is that domain.
    static func googleOwns(_ domain: String, hostedDomain: String?) -> Bool {
        let domain = domain.lowercased()
        if domain == "gmail.com" || domain == "googlemail.com" { return true }
        return hostedDomain?.lowercased() == domain
    }

    static func formEncode(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    static func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
        let left = Array(lhs.utf8), right = Array(rhs.utf8)
        guard left.count == right.count else { return false }
        return zip(left, right).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
