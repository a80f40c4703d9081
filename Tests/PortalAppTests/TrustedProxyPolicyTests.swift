import HTTPTypes
import PortalApp
import Testing

@Suite("Trusted proxies (Waitress's trusted_proxy and clear_untrusted_proxy_headers)")
struct TrustedProxyPolicyTests {
    private func headers(_ pairs: [(String, String)]) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in pairs {
            if let field = HTTPField.Name(name) { fields.append(HTTPField(name: field, value: value)) }
        }
        return fields
    }

    @Test("headers from the trusted edge are believed")
    func trusted() {
        let policy = TrustedProxyPolicy(trustedProxies: ["127.0.0.1"], trustedProxyCount: 1)
        var fields = headers([("Host", "portal.example.com.br"), ("X-Forwarded-For", "198.51.100.7, 203.0.113.9"),
                              ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "portal.example.com.br")])
        let origin = policy.resolve(peer: "127.0.0.1", headers: &fields)
        #expect(origin.clientAddress == "203.0.113.9")
        #expect(origin.scheme == "https")
        #expect(origin.host == "portal.example.com.br")
        #expect(origin.viaTrustedProxy)
        #expect(fields[HTTPField.Name("X-Forwarded-For")!] != nil)
    }

    @Test("headers from anyone else are removed")
    func untrusted() {
        let policy = TrustedProxyPolicy(trustedProxies: ["127.0.0.1"], trustedProxyCount: 1)
        var fields = headers([("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-Proto", "https"),
                              ("X-Forwarded-Host", "evil.example"), ("Forwarded", "for=1.2.3.4")])
        let origin = policy.resolve(peer: "192.0.2.50", headers: &fields)
        #expect(origin.clientAddress == "192.0.2.50")
        #expect(origin.scheme == "http")
        #expect(!origin.viaTrustedProxy)
        #expect(fields[HTTPField.Name("X-Forwarded-For")!] == nil)
        #expect(fields[HTTPField.Name("X-Forwarded-Proto")!] == nil)
        #expect(fields[HTTPField.Name("X-Forwarded-Host")!] == nil)
        #expect(fields[HTTPField.Name("Forwarded")!] == nil)
    }

    @Test("with two proxies the client is the second address from the right")
    func twoProxies() {
        let policy = TrustedProxyPolicy(trustedProxies: ["10.0.0.0/8"], trustedProxyCount: 2)
        var fields = headers([("X-Forwarded-For", "6.6.6.6, 198.51.100.7, 10.1.1.1")])
        #expect(policy.resolve(peer: "10.2.2.2", headers: &fields).clientAddress == "198.51.100.7")
    }

    @Test("a spoofed or malformed entry never becomes the client address")
    func malformed() {
        let policy = TrustedProxyPolicy(trustedProxies: ["127.0.0.1"], trustedProxyCount: 1)
        var fields = headers([("X-Forwarded-For", "not-an-ip"), ("X-Forwarded-Proto", "gopher")])
        let origin = policy.resolve(peer: "127.0.0.1", headers: &fields)
        #expect(origin.clientAddress == "127.0.0.1")
        #expect(origin.scheme == "http")
    }

    @Test("a count of zero trusts nobody")
    func zeroCount() {
        let policy = TrustedProxyPolicy(trustedProxies: ["127.0.0.1"], trustedProxyCount: 0)
        #expect(!policy.isTrusted("127.0.0.1"))
    }
}
