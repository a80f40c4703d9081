import Edge
import Foundation
import NIOCore
import NIOHTTP1
import PortalCore
import PortalTestSupport
import Testing

@Suite("Edge: sites, SNI, routes, redirects", .serialized)
struct EdgeSitesTests {
    @Test("SNI picks each site's certificate, and each site goes to its own upstream")
    func sniAndSites() async throws {
        let first = try await RecordingUpstream.start(responseBody: "site A")
        let second = try await RecordingUpstream.start(responseBody: "site B")
        let directory = try TemporaryDirectory(prefix: "portal-sni")
        defer { directory.remove() }
        let a = try TestCertificate.make(names: ["a.test"], directory: directory.path, file: "a")
        let b = try TestCertificate.make(names: ["*.b.test"], directory: directory.path, file: "b")
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            var siteA = SiteSettings(name: "a", hosts: ["a.test"], routes: [
                RouteSettings(path: "/", upstreams: ["127.0.0.1:\(first.port)"])])
            siteA.certificateFile = a.certificate
            siteA.keyFile = a.key
            var siteB = SiteSettings(name: "b", hosts: ["*.b.test"], routes: [
                RouteSettings(path: "/", upstreams: ["127.0.0.1:\(second.port)"])])
            siteB.certificateFile = b.certificate
            siteB.keyFile = b.key
            edge.sites = [siteA, siteB]
        }
        let responseA = try await TestHTTPClient.request(
            port: edge.httpsPort, path: "/", tls: TestTLS(trustedCertificateFile: a.certificate, serverName: "a.test"))
        let responseB = try await TestHTTPClient.request(
            port: edge.httpsPort, path: "/", tls: TestTLS(trustedCertificateFile: b.certificate, serverName: "x.b.test"))
        // A Host naming a site with another certificate than the one the connection was set up with: 421.
        let crossed = try await TestHTTPClient.request(
            port: edge.httpsPort, path: "/", headers: [("Host", "y.b.test")],
            tls: TestTLS(trustedCertificateFile: a.certificate, serverName: "a.test"))
        let sameSite = try await TestHTTPClient.request(
            port: edge.httpsPort, path: "/", headers: [("Host", "y.b.test")],
            tls: TestTLS(trustedCertificateFile: b.certificate, serverName: "x.b.test"))
        // Presenting site A's name but trusting only B's certificate must fail: A's certificate is served.
        await #expect(throws: (any Error).self) {
            _ = try await TestHTTPClient.request(
                port: edge.httpsPort, path: "/", tls: TestTLS(trustedCertificateFile: b.certificate, serverName: "a.test"))
        }
        await edge.stop()
        await first.stop()
        await second.stop()
        #expect(responseA.body == "site A")
        #expect(responseB.body == "site B")
        #expect(crossed.status == 421)
        #expect(sameSite.body == "site B")
        #expect(first.requests.count == 1)
    }

    @Test("unknown hosts get 421, or the default site when there is one")
    func unknownHost() async throws {
        let upstream = try await RecordingUpstream.start(responseBody: "default site")
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            var site = SiteSettings(name: "portal", hosts: ["portal.test"], routes: [
                RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"])])
            site.redirectToHTTPS = false
            edge.sites = [site]
        }
        let unknown = try await TestHTTPClient.request(port: edge.httpPort, path: "/", headers: [("Host", "other.test")])
        let known = try await TestHTTPClient.request(port: edge.httpPort, path: "/", headers: [("Host", "PORTAL.test:80")])
        await edge.stop()
        #expect(unknown.status == 421)
        #expect(known.status == 200)

        let withDefault = try await EdgeFixture.start(upstreams: []) { edge in
            var site = SiteSettings(name: "portal", hosts: ["portal.test"], routes: [
                RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"])])
            site.redirectToHTTPS = false
            edge.sites = [site]
            edge.defaultSite = "portal"
        }
        let fallback = try await TestHTTPClient.request(port: withDefault.httpPort, path: "/", headers: [("Host", "other.test")])
        await withDefault.stop()
        await upstream.stop()
        #expect(fallback.status == 200)
        #expect(fallback.body == "default site")
    }

    @Test("the longest matching path prefix wins, at segment boundaries")
    func longestPrefix() async throws {
        let root = try await RecordingUpstream.start(responseBody: "root")
        let api = try await RecordingUpstream.start(responseBody: "api")
        let v2 = try await RecordingUpstream.start(responseBody: "v2")
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            var site = SiteSettings(name: "portal", hosts: ["*"], routes: [
                RouteSettings(path: "/", upstreams: ["127.0.0.1:\(root.port)"]),
                RouteSettings(path: "/api", upstreams: ["127.0.0.1:\(api.port)"]),
                RouteSettings(path: "/api/v2/", upstreams: ["127.0.0.1:\(v2.port)"]),
            ])
            site.redirectToHTTPS = false
            edge.sites = [site]
        }
        var bodies: [String: String] = [:]
        for path in ["/", "/api", "/api/tasks", "/apix", "/api/v2/tasks", "/api?x=1"] {
            bodies[path] = try await TestHTTPClient.request(port: edge.httpPort, path: path).body
        }
        await edge.stop()
        for upstream in [root, api, v2] { await upstream.stop() }
        #expect(bodies == ["/": "root", "/api": "api", "/api/tasks": "api", "/apix": "root",
                           "/api/v2/tasks": "v2", "/api?x=1": "api"])
    }

    @Test("canonical host: other names of the site are redirected to it")
    func canonicalHost() async throws {
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            var site = SiteSettings(name: "portal", hosts: ["portal.test", "www.portal.test"], routes: [
                RouteSettings(path: "/", upstreams: ["127.0.0.1:9"])])
            site.redirectToHTTPS = false
            site.canonicalHost = "www.portal.test"
            edge.sites = [site]
        }
        let response = try await TestHTTPClient.request(port: edge.httpPort, path: "/tasks?a=1",
                                                        headers: [("Host", "portal.test")])
        let withPort = try await TestHTTPClient.request(port: edge.httpPort, path: "/tasks?a=1",
                                                        headers: [("Host", "portal.test:\(edge.httpPort)")])
        await edge.stop()
        #expect(response.status == 301)
        // The port the client named, or none (it may have come through a port forward).
        #expect(response.header("Location") == "http://www.portal.test/tasks?a=1")
        #expect(withPort.header("Location") == "http://www.portal.test:\(edge.httpPort)/tasks?a=1")
    }

    @Test("an HTTPS redirect uses the canonical host")
    func httpsRedirectToCanonical() async throws {
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            var site = SiteSettings(name: "portal", hosts: ["portal.test", "www.portal.test"], routes: [
                RouteSettings(path: "/", upstreams: ["127.0.0.1:9"])])
            site.canonicalHost = "www.portal.test"
            edge.sites = [site]
        }
        let response = try await TestHTTPClient.request(port: edge.httpPort, path: "/x", headers: [("Host", "portal.test")])
        await edge.stop()
        #expect(response.status == 301)
        #expect(response.header("Location") == "https://www.portal.test:\(edge.httpsPort)/x")
    }

    @Test("Location pointing at the upstream is rewritten to the public address (ProxyPassReverse)")
    func locationRewrite() async throws {
        let port = try FreePort.allocate()
        let upstream = try await RecordingUpstream.start(
            extraHeaders: [("Location", "http://127.0.0.1:\(port)/login?next=%2F"), ("Content-Location", "/relative")],
            port: port)
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: upstream.port)])
        let response = try await TestHTTPClient.request(port: edge.httpsPort, path: "/", tls: edge.tls)
        await edge.stop()
        await upstream.stop()
        #expect(response.header("Location") == "https://localhost:\(edge.httpsPort)/login?next=%2F")
        #expect(response.header("Content-Location") == "/relative")
    }

    @Test("preserve_host off sends the upstream's address as Host; Forwarded is optional")
    func hostAndForwarded() async throws {
        let upstream = try await RecordingUpstream.start()
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            var route = RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"])
            route.preserveHost = false
            var site = SiteSettings(name: "portal", hosts: ["*"], routes: [route])
            site.redirectToHTTPS = false
            edge.sites = [site]
            edge.forwardedHeader = true
        }
        _ = try await TestHTTPClient.request(port: edge.httpPort, path: "/", headers: [("Host", "portal.test")])
        await edge.stop()
        await upstream.stop()
        let recorded = try #require(upstream.requests.first)
        #expect(recorded.header("Host") == "127.0.0.1:\(upstream.port)")
        #expect(recorded.header("X-Forwarded-Host") == "portal.test")
        #expect(recorded.header("Forwarded") == "for=127.0.0.1;proto=http;host=\"portal.test\"")
    }
}
