import CompressNIO
@testable import Edge
import Foundation
import HummingbirdBcrypt
import NIOCore
import NIOSSL
import PortalCore
import PortalTestSupport
import Testing

@Suite("Edge: access rules and the status page", .serialized)
struct EdgeAccessTests {
    @Test("deny and allow lists by client address")
    func addressLists() async throws {
        let upstream = try await RecordingUpstream.start()
        var denied = RouteSettings(path: "/deny", upstreams: ["127.0.0.1:\(upstream.port)"])
        denied.access.deny = ["127.0.0.3"]
        var allowed = RouteSettings(path: "/allow", upstreams: ["127.0.0.1:\(upstream.port)"])
        allowed.access.allow = ["127.0.0.1/32"]
        let edge = try await EdgeFixture.start(upstreams: [], configure: EdgeFixture.plainSite([denied, allowed]))
        let request: (String) -> [String] = { ["GET \($0) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"] }
        let deniedFromThree = try await RawSocketClient.exchange(port: edge.httpPort, chunks: request("/deny"), from: "127.0.0.3")
        let deniedFromOne = try await RawSocketClient.exchange(port: edge.httpPort, chunks: request("/deny"), from: "127.0.0.1")
        let allowedFromThree = try await RawSocketClient.exchange(port: edge.httpPort, chunks: request("/allow"), from: "127.0.0.3")
        let allowedFromOne = try await RawSocketClient.exchange(port: edge.httpPort, chunks: request("/allow"), from: "127.0.0.1")
        await edge.stop()
        await upstream.stop()
        #expect(deniedFromThree.statuses == [403])
        #expect(deniedFromOne.statuses == [200])
        #expect(allowedFromThree.statuses == [403])
        #expect(allowedFromOne.statuses == [200])
        #expect(upstream.requests.count == 2)
    }

    @Test("no spelling of a path reaches a protected route's upstream: the path is normalized before matching")
    func pathSpellings() async throws {
        let upstream = try await RecordingUpstream.start()
        var secret = RouteSettings(path: "/private", upstreams: ["127.0.0.1:\(upstream.port)"])
        secret.access.deny = ["127.0.0.0/8"]
        let open = RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"])
        let edge = try await EdgeFixture.start(upstreams: [], configure: EdgeFixture.plainSite([secret, open]))
        var statuses: [String: [Int]] = [:]
        for path in ["/private/", "//private/", "/./private/", "/x/../private/", "/%70rivate/", "/x/%2e%2e/private/a",
                     "/private;x=1", "/private%2Findex.html", "/../private/", "/private#", "/public/..;/private",
                     "/public/../a//b/./c?q=/../x"] {
            let result = try await RawSocketClient.exchange(
                port: edge.httpPort, chunks: ["GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"])
            statuses[path] = result.statuses
        }
        await edge.stop()
        await upstream.stop()
        for path in ["/private/", "//private/", "/./private/", "/x/../private/", "/%70rivate/", "/x/%2e%2e/private/a",
                     "/private;x=1"] {
            #expect(statuses[path] == [403], "\(path)")
        }
        #expect(statuses["/private#"] == [400])
        #expect(statuses["/public/..;/private"] == [400])
        #expect(statuses["/private%2Findex.html"] == [404])
        #expect(statuses["/../private/"] == [400])
        #expect(statuses["/public/../a//b/./c?q=/../x"] == [200])
        // Only the open request reached the upstream, in the normalized form, query untouched.
        #expect(upstream.requests.map(\.uri) == ["/a/b/c?q=/../x"])
    }

    @Test("allow_encoded_slashes passes %2F to the upstream as sent; files and other sites still refuse it")
    func encodedSlashes() async throws {
        let upstream = try await RecordingUpstream.start()
        let root = try TemporaryDirectory(prefix: "portal-slashes")
        defer { root.remove() }
        try "a".write(toFile: root.file("a.txt"), atomically: true, encoding: .utf8)
        var files = RouteSettings(path: "/files", upstreams: [])
        files.root = root.path
        let open = RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"])
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            var allowing = SiteSettings(name: "git", hosts: ["git.test"], routes: [files, open])
            allowing.redirectToHTTPS = false
            allowing.allowEncodedSlashes = true
            var strict = SiteSettings(name: "other", hosts: ["other.test"], routes: [open])
            strict.redirectToHTTPS = false
            edge.sites = [allowing, strict]
        }
        func status(_ path: String, host: String) async throws -> [Int] {
            try await RawSocketClient.exchange(
                port: edge.httpPort, chunks: ["GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n"]).statuses
        }
        let passed = try await status("/group%2Fproject/-/raw?ref=main", host: "git.test")
        let file = try await status("/files%2Fa.txt", host: "git.test")
        let fileInside = try await status("/files/x%2F..%2Fa.txt", host: "git.test")
        let strict = try await status("/group%2Fproject", host: "other.test")
        await edge.stop()
        await upstream.stop()
        #expect(passed == [200])
        #expect(file == [200])
        #expect(fileInside == [404])
        #expect(strict == [404])
        // `/files%2Fa.txt` is not under `/files`: it went to the upstream, encoded, like the first one.
        #expect(upstream.requests.map(\.uri) == ["/group%2Fproject/-/raw?ref=main", "/files%2Fa.txt"])
    }

    @Test("local_only admits loopback clients and nobody else")
    func localOnly() throws {
        var rules = AccessRules()
        rules.localOnly = true
        let policy = try AccessPolicy(rules)
        guard case .allow = policy.check(client: "127.0.0.1", authorization: nil) else { Issue.record("loopback refused"); return }
        guard case .allow = policy.check(client: "::1", authorization: nil) else { Issue.record("::1 refused"); return }
        guard case .forbidden = policy.check(client: "192.168.0.10", authorization: nil) else { Issue.record("LAN admitted"); return }
        guard case .forbidden = policy.check(client: "-", authorization: nil) else { Issue.record("unknown admitted"); return }
    }

    @Test("local_only with an allow list lets either in; a client at the server's own address is local")
    func localOrAllowed() throws {
        var rules = AccessRules()
        rules.localOnly = true
        rules.allow = ["192.168.1.0/24"]
        rules.deny = ["192.168.1.66"]
        let policy = try AccessPolicy(rules)
        let decide = { (client: String, server: String?) -> String in
            switch policy.check(client: client, server: server, authorization: nil) {
            case .allow: "allow"
            case .forbidden: "forbidden"
            default: "other"
            }
        }
        #expect(decide("127.0.0.1", "127.0.0.1") == "allow")
        #expect(decide("192.168.1.20", "203.0.113.5") == "allow")
        #expect(decide("192.168.1.66", "203.0.113.5") == "forbidden", "deny wins")
        #expect(decide("10.0.0.8", "203.0.113.5") == "forbidden")
        #expect(decide("203.0.113.5", "203.0.113.5") == "allow", "the server itself, by its public address")
    }

    @Test("satisfy: all asks for the address and the password, any for either")
    func satisfy() throws {
        let directory = try TemporaryDirectory(prefix: "portal-auth")
        defer { directory.remove() }
        let file = directory.file("htpasswd")
        try "contador:\(Bcrypt.hash("senha", cost: 4))\n".write(toFile: file, atomically: true, encoding: .utf8)
        var rules = AccessRules()
        rules.allow = ["192.168.1.0/24"]
        rules.basicAuthFile = file
        let all = try AccessPolicy(rules)
        rules.satisfyAny = true
        let any = try AccessPolicy(rules)
        let basic = "Basic " + Data("contador:senha".utf8).base64EncodedString()
        func name(_ decision: AccessPolicy.Decision) -> String {
            switch decision {
            case .allow: "allow"
            case .forbidden: "forbidden"
            case .unauthorized: "unauthorized"
            case .verify: "verify"
            case .refreshFirst: "refresh"
            }
        }
        #expect(name(all.check(client: "192.168.1.20", authorization: nil)) == "unauthorized")
        #expect(name(all.check(client: "192.168.1.20", authorization: basic)) == "verify")
        #expect(name(all.check(client: "10.0.0.8", authorization: basic)) == "forbidden")
        #expect(name(any.check(client: "192.168.1.20", authorization: nil)) == "allow")
        #expect(name(any.check(client: "10.0.0.8", authorization: nil)) == "unauthorized")
        #expect(name(any.check(client: "10.0.0.8", authorization: basic)) == "verify")
    }

    @Test("an htpasswd file written on Windows works; every bad line is reported; a cut hash is refused")
    func htpasswdLines() throws {
        let directory = try TemporaryDirectory(prefix: "portal-auth")
        defer { directory.remove() }
        let file = directory.file("htpasswd")
        let hash = Bcrypt.hash("senha", cost: 4)
        try "# equipe\r\ncontador:\(hash)\r\nfiscal:\(hash)\r\n".write(toFile: file, atomically: true, encoding: .utf8)
        let users = try AccessPolicy.loadPasswords(file)
        #expect(users.keys.sorted() == ["contador", "fiscal"])
        #expect(users["contador"]?.hasSuffix("\r") == false)
        try "a:$apr1$abc$def\nb:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\nc:$2y$05$short\n".write(toFile: file, atomically: true, encoding: .utf8)
        do {
            _ = try AccessPolicy.loadPasswords(file)
            Issue.record("a file without usable hashes was accepted")
        } catch {
            let text = "\(error)"
            #expect(text.contains("\(file):1: only bcrypt"))
            #expect(text.contains("\(file):2: only bcrypt"))
            #expect(text.contains("\(file):3: the bcrypt hash is incomplete"))
        }
    }

    @Test("HTTP basic auth against a bcrypt htpasswd file")
    func basicAuth() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-auth")
        defer { directory.remove() }
        let file = directory.file("htpasswd")
        try "# operators\ncontador:\(Bcrypt.hash("senha-muito-secreta", cost: 6))\n".write(toFile: file, atomically: true, encoding: .utf8)
        let upstream = try await RecordingUpstream.start()
        var route = RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"])
        route.access.basicAuthFile = file
        route.access.basicAuthRealm = "phpMyAdmin"
        let edge = try await EdgeFixture.start(upstreams: [], configure: EdgeFixture.plainSite([route]))
        let authorization: (String) -> (String, String) = { ("Authorization", "Basic " + Data($0.utf8).base64EncodedString()) }
        let none = try await TestHTTPClient.request(port: edge.httpPort, path: "/")
        let wrong = try await TestHTTPClient.request(port: edge.httpPort, path: "/", headers: [authorization("contador:errada")])
        let right = try await TestHTTPClient.request(port: edge.httpPort, path: "/", headers: [authorization("contador:senha-muito-secreta")])
        let again = try await TestHTTPClient.request(port: edge.httpPort, path: "/", headers: [authorization("contador:senha-muito-secreta")])
        // The password changes in the file (htpasswd -B). A second later (the edge looks at the
        // file at most once a second), the very first request with the old one is refused.
        try "contador:\(Bcrypt.hash("outra-senha", cost: 6))\n".write(toFile: file, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .milliseconds(1_200))
        let oldAfterChange = Int(try await TestHTTPClient.request(port: edge.httpPort, path: "/",
                                                                  headers: [authorization("contador:senha-muito-secreta")]).status)
        let newAfterChange = Int(try await TestHTTPClient.request(port: edge.httpPort, path: "/",
                                                                  headers: [authorization("contador:outra-senha")]).status)
        await edge.stop()
        await upstream.stop()
        #expect(oldAfterChange == 401)
        #expect(newAfterChange == 200)
        #expect(none.status == 401)
        #expect(none.header("WWW-Authenticate") == "Basic realm=\"phpMyAdmin\", charset=\"UTF-8\"")
        #expect(wrong.status == 401)
        #expect(right.status == 200)
        #expect(again.status == 200)
        #expect(upstream.requests.count >= 3)
    }

    @Test("an htpasswd file without bcrypt hashes is refused at load")
    func weakHtpasswd() throws {
        let directory = try TemporaryDirectory(prefix: "portal-auth")
        defer { directory.remove() }
        let file = directory.file("htpasswd")
        try "admin:$apr1$abc$def\n".write(toFile: file, atomically: true, encoding: .utf8)
        var rules = AccessRules()
        rules.basicAuthFile = file
        #expect(throws: TLSSetupError.self) { _ = try AccessPolicy(rules) }
    }

    @Test("the status page shows requests, connections and upstream health, local only by default")
    func statusPage() async throws {
        let upstream = try await RecordingUpstream.start()
        let refusing = try RefusingPort()
        defer { withExtendedLifetime(refusing) {} }
        let closed = refusing.port
        var status = RouteSettings(path: "/server-status", upstreams: [])
        status.status = true
        status.access.localOnly = true
        let edge = try await EdgeFixture.start(upstreams: [], configure: EdgeFixture.plainSite([
            status, RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"]),
            RouteSettings(path: "/down", upstreams: ["127.0.0.1:\(closed)"]),
            // Never requested: listed from the start, in state unknown.
            RouteSettings(path: "/unused", upstreams: ["127.0.0.1:9"]),
        ]))
        for _ in 0..<3 { _ = try await TestHTTPClient.request(port: edge.httpPort, path: "/") }
        _ = try await TestHTTPClient.request(port: edge.httpPort, path: "/down")
        let html = try await TestHTTPClient.request(port: edge.httpPort, path: "/server-status")
        let json = try await TestHTTPClient.request(port: edge.httpPort, path: "/server-status?json")
        let auto = try await TestHTTPClient.request(port: edge.httpPort, path: "/server-status?auto")
        let gzipped = try await TestHTTPClient.requestBytes(port: edge.httpPort, path: "/server-status",
                                                            headers: [("Accept-Encoding", "gzip")])
        await edge.stop()
        await upstream.stop()
        #expect(html.status == 200)
        #expect(html.body.contains("Estado do Portal"))
        // mod_status's machine-readable form, as monitoring set up against Apache reads it.
        #expect(auto.header("Content-Type")?.hasPrefix("text/plain") == true)
        let autoFields = Dictionary(auto.body.split(separator: "\n").compactMap { line -> (String, String)? in
            let parts = line.split(separator: ":", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), parts[1].trimmingCharacters(in: .whitespaces)) : nil
        }, uniquingKeysWith: { $1 })
        #expect(Int(autoFields["Total Accesses"] ?? "") ?? 0 >= 4)
        #expect(autoFields["BusyWorkers"] != nil && autoFields["IdleWorkers"] != nil && autoFields["Uptime"] != nil)
        // Compressed like any HTML page when the client asks.
        #expect(gzipped.header("Content-Encoding") == "gzip")
        #expect(gzipped.header("Vary") == "Accept-Encoding")
        #expect(gzipped.header("Content-Length") == String(gzipped.bytes.count))
        var compressed = ByteBuffer(bytes: gzipped.bytes)
        #expect(String(buffer: try compressed.decompress(with: .gzip())).contains("Estado do Portal"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.body.utf8)) as? [String: Any])
        #expect((object["requests"] as? Int ?? 0) >= 4)
        let responses = try #require(object["responses"] as? [String: Int])
        #expect(responses["2xx"] ?? 0 >= 3)
        #expect(responses["5xx"] == 1)
        let upstreams = try #require(object["upstreams"] as? [[String: Any]])
        #expect(upstreams.contains { $0["address"] as? String == "127.0.0.1:\(upstream.port)" && $0["state"] as? String == "up" })
        #expect(upstreams.contains { $0["address"] as? String == "127.0.0.1:\(closed)" && $0["state"] as? String == "down" })
        #expect(upstreams.contains { $0["address"] as? String == "127.0.0.1:9" && $0["state"] as? String == "unknown" })
        #expect(html.body.contains("127.0.0.1:9<"))
        let connections = try #require(object["connections"] as? [String: Int])
        #expect(connections["open"] ?? 0 >= 1)
    }

    @Test("a status route is local only unless access is configured")
    func statusDefaultsLocal() throws {
        let yaml = """
            edge:
              sites:
                - name: p
                  hosts: ["*"]
                  routes:
                    - {path: /server-status, status: true}
            """
        let configuration = try ConfigurationLoader.parse(yaml: yaml, source: "p.yaml")
        #expect(configuration.edge.sites[0].routes[0].status)
        #expect(configuration.edge.sites[0].routes[0].access.localOnly)
    }
}

@Suite("Edge: Prometheus metrics", .serialized)
struct EdgeMetricsTests {
    @Test("metrics count requests by site and status, upstream errors, TLS handshakes and certificate days")
    func metrics() async throws {
        let upstream = try await RecordingUpstream.start()
        let refusing = try RefusingPort()
        defer { withExtendedLifetime(refusing) {} }
        let closed = refusing.port
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            var metrics = RouteSettings(path: "/metrics", upstreams: [])
            metrics.metrics = true
            metrics.access.localOnly = true
            edge.sites = [SiteSettings(name: "portal", hosts: ["*"], routes: [
                metrics, RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"]),
                RouteSettings(path: "/down", upstreams: ["127.0.0.1:\(closed)"]),
            ])]
        }
        for _ in 0..<2 { _ = try await TestHTTPClient.request(port: edge.httpsPort, path: "/tasks/42", tls: edge.tls) }
        _ = try await TestHTTPClient.request(port: edge.httpsPort, path: "/down", tls: edge.tls)
        var old = edge.tls
        old.maximumVersion = .tlsv11
        _ = try? await TestHTTPClient.request(port: edge.httpsPort, path: "/", tls: old)
        // Plain HTTP on the HTTPS port: a 400 that names the mistake, not a silent close.
        let plain = try await RawSocketClient.exchange(port: edge.httpsPort, chunks: ["GET / HTTP/1.1\r\nHost: x\r\n\r\n"])
        let response = try await TestHTTPClient.request(port: edge.httpsPort, path: "/metrics", tls: edge.tls)
        let gzipped = try await TestHTTPClient.requestBytes(port: edge.httpsPort, path: "/metrics",
                                                            headers: [("Accept-Encoding", "gzip")], tls: edge.tls)
        await edge.stop()
        await upstream.stop()
        let text = response.body
        #expect(gzipped.header("Content-Encoding") == "gzip")
        var compressed = ByteBuffer(bytes: gzipped.bytes)
        #expect(String(buffer: try compressed.decompress(with: .gzip())).contains("portal_edge_requests_total"))
        #expect(response.status == 200)
        #expect(response.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(text.contains("portal_edge_requests_total{site=\"portal\",code=\"200\"} 2"))
        #expect(text.contains("portal_edge_requests_total{site=\"portal\",code=\"502\"} 1"))
        #expect(text.contains("portal_edge_upstream_errors_total{upstream=\"127.0.0.1:\(closed)\"} 1"))
        // Configured upstreams show their failure counters from the start, at 0 until one fails.
        #expect(text.contains("portal_edge_upstream_errors_total{upstream=\"127.0.0.1:\(upstream.port)\"} 0"), "\(text)")
        #expect(text.contains("portal_edge_upstream_timeouts_total{upstream=\"127.0.0.1:\(upstream.port)\"} 0"))
        #expect(text.contains("portal_edge_request_duration_seconds_bucket"))
        #expect(text.contains("portal_edge_tls_handshakes_total{result=\"ok\"}"))
        #expect(text.contains("portal_edge_tls_handshakes_total{result=\"failed\"} 1"), "\(text)")
        #expect(plain.statuses == [400])
        #expect(plain.response.contains("apenas HTTPS"))
        #expect(plain.response.contains("X-Content-Type-Options: nosniff"), "the security headers, as on every answer")
        #expect(plain.response.contains("Server: Portal"))
        #expect(!plain.response.contains("Strict-Transport-Security"), "HSTS means nothing over plain HTTP")
        #expect(plain.closedByServer)
        #expect(text.contains("portal_edge_certificate_expiry_days{site=\"portal\"} 89") || text.contains("portal_edge_certificate_expiry_days{site=\"portal\"} 90"))
        #expect(!text.contains("/tasks/42"), "paths never become labels")
    }
}
