import Edge
import Foundation
import NIOCore
import PortalCore
import PortalTestSupport
import Testing

/// Inputs found in review that once crashed, hung or misanswered.
@Suite("Edge: robustness", .serialized)
struct EdgeRobustnessTests {
    static func plain(_ port: Int, configure: @escaping (inout EdgeSettings) -> Void = { _ in }) -> (inout EdgeSettings) -> Void {
        { edge in
            var site = SiteSettings(name: "p", hosts: ["*"], routes: [RouteSettings(path: "/", upstreams: ["127.0.0.1:\(port)"])])
            site.redirectToHTTPS = false
            edge.sites = [site]
            configure(&edge)
        }
    }

    @Test("a date far in the future in If-Modified-Since is ignored, not fatal")
    func hugeDate() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-robust")
        defer { directory.remove() }
        try FileManager.default.createDirectory(atPath: directory.file("www"), withIntermediateDirectories: true)
        try "x".write(toFile: directory.file("www/a.txt"), atomically: true, encoding: .utf8)
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            var site = SiteSettings(name: "f", hosts: ["*"], routes: [RouteSettings(path: "/", root: directory.file("www"))])
            site.redirectToHTTPS = false
            edge.sites = [site]
        }
        let response = try await TestHTTPClient.request(port: edge.httpPort, path: "/a.txt",
                                                        headers: [("If-Modified-Since", "Sun, 06 Nov 99999999999 08:49:37 GMT"),
                                                                  ("Range", "bytes=0-0"), ("If-Range", "Sun, 06 Nov 99999999999 08:49:37 GMT")])
        let after = try await TestHTTPClient.request(port: edge.httpPort, path: "/a.txt")
        await edge.stop()
        #expect(response.status == 200)
        #expect(after.status == 200)
    }

    @Test("a TLS connection that never finishes its handshake is closed")
    func silentTLS() async throws {
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: 9)]) { edge in
            edge.requestHeaderTimeoutSeconds = 1
        }
        let result = try await RawSocketClient.exchange(port: edge.httpsPort, chunks: ["\u{16}\u{03}\u{01}"], timeout: .seconds(4))
        await edge.stop()
        #expect(result.closedByServer)
    }

    @Test("a request asking to upgrade to something else is answered and the connection closed")
    func otherUpgrade() async throws {
        let upstream = try await RecordingUpstream.start()
        let edge = try await EdgeFixture.start(upstreams: [], configure: Self.plain(upstream.port))
        let result = try await RawSocketClient.exchange(
            port: edge.httpPort,
            chunks: ["GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"],
            timeout: .seconds(4))
        await edge.stop()
        await upstream.stop()
        #expect(result.statuses == [200])
        #expect(result.closedByServer)
        #expect(upstream.requests.first?.header("Upgrade") == nil)
    }

    @Test("a malformed request pipelined after a good one gets its 400 after the good one's answer")
    func pipelinedGarbage() async throws {
        let upstream = try await RecordingUpstream.start(delay: .milliseconds(200))
        let edge = try await EdgeFixture.start(upstreams: [], configure: Self.plain(upstream.port))
        let result = try await RawSocketClient.exchange(
            port: edge.httpPort, chunks: ["GET /good HTTP/1.1\r\nHost: x\r\n\r\nG(T /bad HTTP/1.1\r\nHost: x\r\n\r\n"],
            timeout: .seconds(4))
        await edge.stop()
        await upstream.stop()
        #expect(result.statuses == [200, 400])
        #expect(result.closedByServer)
        #expect(upstream.requests.map(\.uri) == ["/good"])
    }

    @Test("cache lifetimes beyond ten years are refused in the file")
    func hugeExpires() throws {
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(yaml: "edge:\n  expires:\n    text/css: 99999999999999y\n", source: "p.yaml")
        }
        #expect(error.issues.first?.message.contains("at most 10y") == true)
    }
}
