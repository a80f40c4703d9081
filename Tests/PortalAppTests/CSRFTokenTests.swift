import Foundation
@testable import PortalApp
import Testing

@Suite("CSRF tokens")
struct CSRFTokenTests {
    let tokens = CSRFTokens(secret: Data((0..<32).map { UInt8($0) }))

    @Test("a token is valid for its binding only, and differs on every page")
    func masking() {
        let first = tokens.token(for: "session|abc")
        let second = tokens.token(for: "session|abc")
        #expect(first != second)
        #expect(tokens.isValid(first, for: "session|abc"))
        #expect(tokens.isValid(second, for: "session|abc"))
        #expect(!tokens.isValid(first, for: "session|abd"))
        #expect(!tokens.isValid("", for: "session|abc"))
        #expect(!tokens.isValid("not base64 !!", for: "session|abc"))
        #expect(!tokens.isValid(String(first.dropLast(2)), for: "session|abc"))
    }
}
