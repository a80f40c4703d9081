import Edge
import Foundation
import NIOHTTP1
import PortalCore
import PortalTestSupport
import Testing

@Suite("Edge: response headers (Header always set/append/unset)", .serialized)
struct EdgeHeadersTests {
    @Test("security headers by default, HSTS only over HTTPS, also on error pages and redirects")
    func defaults() async throws {
        let upstream = try await RecordingUpstream.start(extraHeaders: [("Server", "Waitress/3.0.2"), ("X-Powered-By", "Flask")])
        let refusing = try RefusingPort()
        defer { withExtendedLifetime(refusing) {} }
        let closed = refusing.port
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            edge.sites = [
                SiteSettings(name: "app", hosts: ["localhost"], routes: [
                    RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"]),
                    RouteSettings(path: "/down", upstreams: ["127.0.0.1:\(closed)"]),
                ]),
            ]
        }
        let proxied = try await TestHTTPClient.request(port: edge.httpsPort, path: "/", tls: edge.tls)
        let failed = try await TestHTTPClient.request(port: edge.httpsPort, path: "/down", tls: edge.tls)
        let redirect = try await TestHTTPClient.request(port: edge.httpPort, path: "/", headers: [("Host", "localhost")])
        await edge.stop()
        await upstream.stop()
        for response in [proxied, failed] {
            #expect(response.header("Strict-Transport-Security") == "max-age=31536000; includeSubDomains")
            #expect(response.header("X-Frame-Options") == "DENY")
            #expect(response.header("X-Content-Type-Options") == "nosniff")
            #expect(response.header("Referrer-Policy") == "strict-origin-when-cross-origin")
            #expect(response.header("Content-Security-Policy")?.contains("default-src 'self'") == true)
            #expect(response.header("Server") == "Portal")
        }
        #expect(failed.status == 502)
        #expect(proxied.headers("Server").count == 1)
        #expect(proxied.header("X-Powered-By") == "Flask")
        #expect(redirect.status == 301)
        #expect(redirect.header("X-Frame-Options") == "DENY")
        #expect(redirect.header("Strict-Transport-Security") == nil)
    }

    @Test("set, append and unset per site; HSTS preload only when asked; off turns it off")
    func rules() async throws {
        let upstream = try await RecordingUpstream.start(extraHeaders: [("X-Powered-By", "Flask"), ("Cache-Control", "private")])
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            edge.headers = HeaderRules(unset: ["X-Powered-By"])
            var site = SiteSettings(name: "app", hosts: ["localhost"], routes: [
                RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"])])
            site.headers = HeaderRules(
                set: [HeaderField(name: "X-Frame-Options", value: "SAMEORIGIN"),
                      HeaderField(name: "Content-Security-Policy", value: "default-src 'self'; script-src 'self' https://cdn.jsdelivr.net")],
                append: [HeaderField(name: "Cache-Control", value: "no-transform")],
                unset: ["Permissions-Policy"])
            site.hsts = "max-age=63072000; includeSubDomains; preload"
            edge.sites = [site]
        }
        let response = try await TestHTTPClient.request(port: edge.httpsPort, path: "/", tls: edge.tls)
        await edge.stop()
        await upstream.stop()
        #expect(response.header("X-Powered-By") == nil)
        #expect(response.header("X-Frame-Options") == "SAMEORIGIN")
        #expect(response.headers("X-Frame-Options").count == 1)
        #expect(response.header("Content-Security-Policy") == "default-src 'self'; script-src 'self' https://cdn.jsdelivr.net")
        #expect(response.headers("Cache-Control") == ["private", "no-transform"])
        #expect(response.header("Permissions-Policy") == nil)
        #expect(response.header("Strict-Transport-Security") == "max-age=63072000; includeSubDomains; preload")
    }

    @Test("a site's rules hold on answers refused before routing (414, 431, 501) and over the expires table")
    func siteRulesEverywhere() async throws {
        let upstream = try await RecordingUpstream.start(contentType: "image/png")
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            edge.maxRequestLineBytes = 1024
            edge.maxHeaderBytes = 1024
            var site = SiteSettings(name: "app", hosts: ["localhost"], routes: [
                RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"])])
            site.headers = HeaderRules(set: [HeaderField(name: "X-Frame-Options", value: "SAMEORIGIN"),
                                             HeaderField(name: "Cache-Control", value: "private")],
                                       unset: ["Server"])
            site.hsts = "off"
            edge.sites = [site]
        }
        let proxied = try await TestHTTPClient.request(port: edge.httpsPort, path: "/logo.png", tls: edge.tls)
        let longTarget = try await TestHTTPClient.request(port: edge.httpsPort, path: "/" + String(repeating: "a", count: 3000), tls: edge.tls)
        let bigHeader = try await TestHTTPClient.request(port: edge.httpsPort, path: "/",
                                                         headers: [("X-Big", String(repeating: "b", count: 2000))], tls: edge.tls)
        let unknownMethod = try await TestHTTPClient.request(port: edge.httpsPort, method: .RAW(value: "FOO"), path: "/", tls: edge.tls)
        await edge.stop()
        await upstream.stop()
        #expect(proxied.status == 200)
        // `set` replaces the lifetime the expires table would give an image.
        #expect(proxied.headers("Cache-Control") == ["private"])
        for (response, status) in [(proxied, 200), (longTarget, 414), (bigHeader, 431), (unknownMethod, 501)] {
            #expect(response.status == status)
            #expect(response.header("Strict-Transport-Security") == nil, "\(status): the site turned HSTS off")
            #expect(response.header("X-Frame-Options") == "SAMEORIGIN", "\(status)")
            #expect(response.header("Server") == nil, "\(status)")
        }
    }

    @Test("the expires table covers proxied answers that say nothing about their lifetime",
          arguments: [
            ("text/css", [] as [(String, String)], "max-age=2592000", true),
            ("image/png", [], "max-age=31536000", true),
            ("text/css", [("Cache-Control", "no-cache")], "no-cache", false),
            ("text/css", [("Expires", "Thu, 01 Jan 1970 00:00:00 GMT")], nil, false),
            ("text/html; charset=utf-8", [], nil, false),
          ] as [(String, [(String, String)], String?, Bool)])
    func proxiedExpires(_ example: (String, [(String, String)], String?, Bool)) async throws {
        let (type, upstreamHeaders, cacheControl, expiresAdded) = example
        let upstream = try await RecordingUpstream.start(contentType: type, extraHeaders: upstreamHeaders)
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: upstream.port)])
        let response = try await TestHTTPClient.request(port: edge.httpsPort, path: "/app.css", tls: edge.tls)
        await edge.stop()
        await upstream.stop()
        #expect(response.status == 200)
        #expect(response.headers("Cache-Control") == (cacheControl.map { [$0] } ?? []), "\(type) \(upstreamHeaders)")
        if expiresAdded {
            let expires = try #require(response.header("Expires"))
            #expect(expires.hasSuffix(" GMT") && expires != "Thu, 01 Jan 1970 00:00:00 GMT")
        } else {
            #expect(response.headers("Expires") == upstreamHeaders.filter { $0.0 == "Expires" }.map(\.1))
        }
    }

    @Test("expires_proxied: false keeps the table to files")
    func proxiedExpiresOff() async throws {
        let upstream = try await RecordingUpstream.start(contentType: "text/css")
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: upstream.port)]) {
            $0.expiresProxied = false
        }
        let response = try await TestHTTPClient.request(port: edge.httpsPort, path: "/app.css", tls: edge.tls)
        await edge.stop()
        await upstream.stop()
        #expect(response.header("Cache-Control") == nil)
        #expect(response.header("Expires") == nil)
    }

    @Test("header rules are read from the file with their places checked")
    func configuration() throws {
        let yaml = """
            edge:
              hsts: "off"
              headers:
                set: {Content-Security-Policy: "default-src 'self'"}
                unset: [X-Frame-Options]
              sites:
                - name: a
                  hosts: [a.test]
                  headers:
                    append: {Cache-Control: no-transform}
                  routes: [{path: /, upstreams: ["127.0.0.1:9000"]}]
            """
        let configuration = try ConfigurationLoader.parse(yaml: yaml, source: "p.yaml")
        #expect(configuration.edge.hsts == nil)
        #expect(configuration.edge.headers.set == [HeaderField(name: "Content-Security-Policy", value: "default-src 'self'")])
        #expect(configuration.edge.headers.unset == ["X-Frame-Options"])
        #expect(configuration.edge.sites[0].headers.append == [HeaderField(name: "Cache-Control", value: "no-transform")])
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(yaml: "edge:\n  headers:\n    set: {\"Bad Name\": x}\n    colour: red\n", source: "p.yaml")
        }
        #expect(error.issues.contains { $0.message.contains("'Bad Name' is not a valid header name") && $0.line == 3 })
        #expect(error.issues.contains { $0.message.contains("unknown key 'edge.headers.colour'") })
    }
}
