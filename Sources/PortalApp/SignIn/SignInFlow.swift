import Crypto
import Foundation
import PortalCore

/// What the browser carries between leaving for the OpenID provider and coming back: `state`,
/// `nonce`, the PKCE verifier and where to go after sign-in. It travels in a cookie sealed with
/// AES-GCM under a key derived from the app's session secret, so any app instance can finish a
/// flow another one started, and nobody can read or forge it.
struct SignInFlow: Codable, Equatable {
    let state: String
    let nonce: String
    let codeVerifier: String
    let next: String
    let expires: Date

    static let cookieName = "portal_oidc"
    static let cookiePath = "/auth/google"
    /// Minutes a person has to finish signing in at the provider.
    static let lifetime: TimeInterval = 600

    /// A new flow with fresh random `state`, `nonce` and verifier.
    static func start(next: String, now: Date = Date()) -> SignInFlow {
        SignInFlow(state: random(), nonce: random(), codeVerifier: random() + random(), next: next,
                   expires: now.addingTimeInterval(lifetime))
    }

    /// The PKCE challenge for the verifier (`S256`: base64url of its SHA-256).
    var codeChallenge: String {
        Base64URL.encode(Data(SHA256.hash(data: Data(codeVerifier.utf8))))
    }

    func sealed(with key: SymmetricKey) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        let box = try AES.GCM.seal(try encoder.encode(self), using: key)
        guard let combined = box.combined else { throw SignInError(.flow, "cannot seal the sign-in flow") }
        return Base64URL.encode(combined)
    }

    /// The flow in `cookie`, or nil when it was not sealed by us, is damaged, or has expired.
    static func open(_ cookie: String, with key: SymmetricKey, now: Date = Date()) -> SignInFlow? {
        guard cookie.count <= 2048, let data = Base64URL.decode(cookie),
              let box = try? AES.GCM.SealedBox(combined: data),
              let plain = try? AES.GCM.open(box, using: key)
        else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        guard let flow = try? decoder.decode(SignInFlow.self, from: plain), now < flow.expires else { return nil }
        return flow
    }

    /// The sealing key: HKDF-SHA256 of the session secret with its own label.
    static func key(fromSessionSecret secret: Data) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: secret), info: Data("portal openid flow".utf8),
                               outputByteCount: 32)
    }

    private static func random() -> String {
        Base64URL.random(bytes: 32)
    }
}
