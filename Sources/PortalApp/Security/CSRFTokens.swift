import Crypto
import Foundation

/// CSRF tokens (Flask-WTF's role): an HMAC of the session token, or of a pre-session cookie on
/// the login form, under the app's secret. Checked in constant time.
struct CSRFTokens: Sendable {
    private let key: SymmetricKey

    init(secret: Data) {
        key = SymmetricKey(data: SHA256.hash(data: secret + Data("portal csrf".utf8)))
    }

    /// The token for forms of a signed-in session (`session|…`) or of the login page (`pre|…`).
    func token(for binding: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(binding.utf8), using: key)
        return Self.base64URL(Data(mac))
    }

    func isValid(_ candidate: String, for binding: String) -> Bool {
        let expected = Array(token(for: binding).utf8)
        let given = Array(candidate.utf8)
        guard expected.count == given.count else { return false }
        var difference: UInt8 = 0
        for index in expected.indices { difference |= expected[index] ^ given[index] }
        return difference == 0
    }

    /// A random value for the pre-session cookie.
    static func randomCookie() -> String {
        var generator = SystemRandomNumberGenerator()
        return base64URL(Data((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
