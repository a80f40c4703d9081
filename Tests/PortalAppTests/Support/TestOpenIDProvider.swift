import Crypto
import CryptoExtras
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import NIOCore
import PortalCore
import Synchronization

/// A small OpenID provider run inside the test process (discovery, JWKS, authorize, token), so
/// the app's sign-in code path is the real one, over real HTTP on loopback. The "person" signing
/// in and the ways the ID token can be spoiled are set per test.
final class TestOpenIDProvider: Sendable {
    /// What the next ID token carries, and how it is spoiled.
    struct Behaviour: Sendable {
        var email = "ana@escritorio.com.br"
        var emailVerified = true
        var hostedDomain: String? = "escritorio.com.br"
        var name = "Ana Google"
        var audience: [String]?
        var issuer: String?
        var expiresIn: TimeInterval = 3600
        var issuedAgo: TimeInterval = 0
        var nonce: String?
        var signWithStrangerKey = false
        var unsigned = false
    }

    struct Grant: Sendable {
        let clientID: String
        let redirectURI: String
        let nonce: String
        let challenge: String
        let method: String
    }

    static let clientID = "portal-test.apps.example"
    static let clientSecret = "segredo-do-cliente-de-teste"

    private let state = Mutex<(behaviour: Behaviour, grants: [String: Grant], authorizeQueries: [[String: String]], tokenForms: [[String: String]])>(
        (Behaviour(), [:], [], []))
    private let issuerBox = Mutex("")
    private let keys: JWTKeyCollection
    private let strangerKeys: JWTKeyCollection
    private let jwksJSON: String

    init() async throws {
        let key = try Insecure.RSA.PrivateKey(backing: try _RSA.Signing.PrivateKey(keySize: .bits2048))
        let stranger = try Insecure.RSA.PrivateKey(backing: try _RSA.Signing.PrivateKey(keySize: .bits2048))
        keys = await JWTKeyCollection().add(rsa: key, digestAlgorithm: .sha256, kid: "k1")
        strangerKeys = await JWTKeyCollection().add(rsa: stranger, digestAlgorithm: .sha256, kid: "k1")
        let (modulus, exponent) = try key.publicKey.getKeyPrimitives()
        jwksJSON = #"{"keys":[{"kty":"RSA","alg":"RS256","use":"sig","kid":"k1","n":"\#(Self.base64URL(modulus))","e":"\#(Self.base64URL(exponent))"}]}"#
    }

    func set(_ change: (inout Behaviour) -> Void) {
        state.withLock { change(&$0.behaviour) }
    }

    var authorizeQueries: [[String: String]] { state.withLock { $0.authorizeQueries } }
    var tokenForms: [[String: String]] { state.withLock { $0.tokenForms } }

    /// Runs the provider on an ephemeral loopback port; `body` gets its issuer URL.
    func run(_ body: @Sendable @escaping (_ issuer: String, _ client: any TestClientProtocol) async throws -> Void) async throws {
        let router = Router()
        let provider = self
        router.get("/.well-known/openid-configuration") { _, _ -> Response in
            let issuer = provider.issuerBox.withLock { $0 }
            return Self.json(#"{"issuer":"\#(issuer)","authorization_endpoint":"\#(issuer)/authorize","token_endpoint":"\#(issuer)/token","jwks_uri":"\#(issuer)/jwks","response_types_supported":["code"],"id_token_signing_alg_values_supported":["RS256"]}"#)
        }
        router.get("/jwks") { _, _ -> Response in Self.json(provider.jwksJSON) }
        router.get("/authorize") { request, _ -> Response in
            let query = Dictionary(request.uri.queryParameters.map { (String($0.key), String($0.value)) }, uniquingKeysWith: { $1 })
            let code = UUID().uuidString
            provider.state.withLock {
                $0.authorizeQueries.append(query)
                $0.grants[code] = Grant(clientID: query["client_id"] ?? "", redirectURI: query["redirect_uri"] ?? "",
                                        nonce: query["nonce"] ?? "", challenge: query["code_challenge"] ?? "",
                                        method: query["code_challenge_method"] ?? "")
            }
            let redirect = (query["redirect_uri"] ?? "") + "?code=\(code)&state=\(query["state"] ?? "")"
            return Response.redirect(to: redirect, type: .found)
        }
        router.post("/token") { request, _ -> Response in
            var request = request
            let body = String(buffer: try await request.collectBody(upTo: 64 * 1024))
            var form: [String: String] = [:]
            for pair in body.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
                if parts.count == 2 { form[parts[0]] = parts[1] }
            }
            let grant = provider.state.withLock { state -> Grant? in
                state.tokenForms.append(form)
                return form["code"].flatMap { state.grants.removeValue(forKey: $0) }
            }
            let verifier = form["code_verifier"] ?? ""
            let challenge = Data(SHA256.hash(data: Data(verifier.utf8)))
            guard let grant, form["grant_type"] == "authorization_code", form["client_id"] == Self.clientID,
                  form["client_secret"] == Self.clientSecret, form["redirect_uri"] == grant.redirectURI,
                  grant.method == "S256", Self.base64URL(challenge) == grant.challenge
            else { return Self.json(#"{"error":"invalid_grant"}"#, status: .badRequest) }
            let token = try await provider.idToken(for: grant, issuer: provider.issuerBox.withLock { $0 })
            return Self.json(#"{"access_token":"at","token_type":"Bearer","expires_in":3600,"id_token":"\#(token)"}"#)
        }
        let application = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await application.test(.live) { client in
            guard let port = client.port else { throw TestProviderError() }
            let issuer = "http://127.0.0.1:\(port)"
            provider.issuerBox.withLock { $0 = issuer }
            try await body(issuer, client)
        }
    }

    private func idToken(for grant: Grant, issuer: String) async throws -> String {
        let behaviour = state.withLock { $0.behaviour }
        let now = Date().addingTimeInterval(-behaviour.issuedAgo)
        let claims = Claims(
            iss: IssuerClaim(value: behaviour.issuer ?? issuer), sub: SubjectClaim(value: "1090" + String(behaviour.email.count)),
            aud: AudienceClaim(value: behaviour.audience ?? [grant.clientID]),
            exp: ExpirationClaim(value: now.addingTimeInterval(behaviour.expiresIn)), iat: IssuedAtClaim(value: now),
            nonce: behaviour.nonce ?? grant.nonce, email: behaviour.email, emailVerified: BoolClaim(value: behaviour.emailVerified),
            hd: behaviour.hostedDomain, name: behaviour.name)
        if behaviour.unsigned {
            let header = Self.base64URL(Data(#"{"alg":"none","typ":"JWT","kid":"k1"}"#.utf8))
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .secondsSince1970
            return header + "." + Self.base64URL(try encoder.encode(claims)) + "."
        }
        return try await (behaviour.signWithStrangerKey ? strangerKeys : keys).sign(claims, kid: "k1")
    }

    struct Claims: JWTPayload {
        enum CodingKeys: String, CodingKey {
            case iss, sub, aud, exp, iat, nonce, email, hd, name
            case emailVerified = "email_verified"
        }
        let iss: IssuerClaim
        let sub: SubjectClaim
        let aud: AudienceClaim
        let exp: ExpirationClaim
        let iat: IssuedAtClaim
        let nonce: String
        let email: String
        let emailVerified: BoolClaim
        let hd: String?
        let name: String
        func verify(using _: some JWTAlgorithm) throws {}
    }

    static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func base64URL(_ data: Data) -> String {
        Base64URL.encode(data)
    }

    struct TestProviderError: Error {}
}
