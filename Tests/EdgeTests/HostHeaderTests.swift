@testable import Edge
import Testing

@Suite("Edge: Host header parsing")
struct HostHeaderTests {
    @Test("the host part is kept lower-cased, without port or final dot", arguments: [
        ("example.com", "example.com"), ("Example.COM", "example.com"), ("example.com:8080", "example.com"),
        ("example.com.", "example.com"), ("WWW.Example.com.:443", "www.example.com"), ("127.0.0.1:28704", "127.0.0.1"),
        ("a-b.c-d", "a-b.c-d"), ("localhost:", "localhost"), ("x:65535", "x"), ("[::1]", "[::1]"),
        ("[::1]:8443", "[::1]"), ("[FE80::1]", "[fe80::1]"), ("a..", "a."),
    ])
    func accepted(_ pair: (String, String)) {
        #expect(HostHeader.hostPart(pair.0) == pair.1, "\(pair.0)")
    }

    @Test("malformed hosts are refused", arguments: [
        "", ".", ".example.com", "a..b", "exa mple.com", "example.com:65536", "example.com:80a", "example.com:123456",
        "ex_ample.com", "[::1", "[]", "[::1]x", "[::1]:99999", "exämple.com", "a:1:2", String(repeating: "a", count: 254),
    ])
    func refused(_ value: String) {
        #expect(HostHeader.hostPart(value) == nil, "\(value)")
    }

    @Test("a name of 253 bytes is the longest kept")
    func longest() {
        let name = String(repeating: "a", count: 253)
        #expect(HostHeader.hostPart(name) == name)
        #expect(HostHeader.hostPart(name + ".") == name)
    }

    @Test("the port is read after the last colon, past an IPv6 literal", arguments: [
        ("example.com:8080", 8080), ("[::1]:443", 443),
    ])
    func port(_ pair: (String, Int)) {
        #expect(HostHeader.port(pair.0) == pair.1)
    }
}
