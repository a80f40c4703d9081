import Crypto
import Foundation
import PortalCore

/// CSRF tokens (Flask-WTF's role): an HMAC of the session token, or of a pre-session cookie on
/// the login form, under the app's secret. Each page gets it masked with a fresh random pad, so
/// the bytes differ on every response (no BREACH-style guessing through compression). Checked in
/// constant time.
struct CSRFTokens: Sendable {
    private let key: SymmetricKey

    init(secret: Data) {
        key = SymmetricKey(data: SHA256.hash(data: secret + Data("portal csrf".utf8)))
    }

    private func mac(_ binding: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Data(binding.utf8), using: key))
    }

    /// A masked token for forms of a signed-in session (`session|…`) or of the login page (`pre|…`).
    func token(for binding: String) -> String {
        let secret = mac(binding)
        var generator = SystemRandomNumberGenerator()
        let pad = (0..<secret.count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Base64URL.encode(Data(pad + zip(secret, pad).map { $0 ^ $1 }))
    }

    func isValid(_ candidate: String, for binding: String) -> Bool {
        let expected = mac(binding)
        guard let decoded = Base64URL.decode(candidate).map(Array.init), decoded.count == expected.count * 2 else { return false }
        let pad = decoded.prefix(expected.count)
        let masked = decoded.suffix(expected.count)
        var difference: UInt8 = 0
        for (index, (padByte, maskedByte)) in zip(pad, masked).enumerated() {
            difference |= (padByte ^ maskedByte) ^ expected[index]
        }
        return difference == 0
    }

    /// A random value for the pre-session cookie.
    static func randomCookie() -> String {
        Base64URL.random(bytes: 32)
    }
}
