import Edge
import Foundation
import HummingbirdBcrypt
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import PortalCore
import PortalTestSupport
import ServiceLifecycle
import Testing

@Suite("Edge: TLS termination, proxying, redirect", .serialized)
struct EdgeProxyTests {
    @Test("proxies over HTTPS, keeps Host and sets X-Forwarded-*")
    func forwardsRequest() async throws {
        let upstream = try await RecordingUpstream.start()
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: upstream.port)])
        defer { Task { await upstream.stop() } }
        let response = try await TestHTTPClient.request(
            port: edge.httpsPort, path: "/tasks?page=2",
            headers: [("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Proto", "http"),
                      ("X_Forwarded_For", "6.6.6.6"), ("X-Real_IP", "5.5.5.5"), ("X_Custom", "kept"),
                      ("X-Real-IP", "7.7.7.7")], tls: edge.tls)
        await edge.stop()
        #expect(response.status == 200)
        // Underscore spellings of the forwarding fields read the same to a WSGI or CGI app.
        #expect(upstream.requests.first?.header("X_Forwarded_For") == nil)
        #expect(upstream.requests.first?.header("X-Real_IP") == nil)
        // X-Real-IP is the address the edge saw, never the client's claim.
        #expect(upstream.requests.first?.headers.filter { $0.0.lowercased() == "x-real-ip" }.map(\.1) == ["127.0.0.1"])
        #expect(upstream.requests.first?.header("X_Custom") == "kept")
        #expect(response.body == "hello from upstream")
        let recorded = try #require(upstream.requests.first)
        #expect(recorded.uri == "/tasks?page=2")
        #expect(recorded.header("Host") == "localhost:\(edge.httpsPort)")
        #expect(recorded.header("X-Forwarded-For") == "203.0.113.9, 127.0.0.1")
        #expect(recorded.header("X-Forwarded-Proto") == "https")
        #expect(recorded.header("X-Forwarded-Host") == "localhost:\(edge.httpsPort)")
    }

    @Test("hop-by-hop headers are removed in both directions")
    func hopByHop() async throws {
        let upstream = try await RecordingUpstream.start(
            extraHeaders: [("Connection", "X-Internal"), ("X-Internal", "secret"), ("Keep-Alive", "timeout=5")])
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: upstream.port)])
        defer { Task { await upstream.stop() } }
        let response = try await TestHTTPClient.request(
            port: edge.httpsPort, path: "/",
            headers: [("Connection", "X-Client-Hop, Cookie, Content-Type"), ("X-Client-Hop", "1"), ("Keep-Alive", "300"),
                      ("Proxy-Connection", "keep-alive"), ("TE", "trailers"), ("Cookie", "v1"), ("Content-Type", "v1")],
            tls: edge.tls)
        await edge.stop()
        #expect(response.status == 200)
        #expect(response.header("X-Internal") == nil)
        #expect(response.header("Keep-Alive") == nil)
        let recorded = try #require(upstream.requests.first)
        #expect(recorded.header("X-Client-Hop") == nil)
        #expect(recorded.header("Keep-Alive") == nil)
        #expect(recorded.header("Proxy-Connection") == nil)
        #expect(recorded.header("TE") == nil)
        #expect(recorded.header("Cookie") == nil)
        #expect(recorded.header("Content-Type") == nil)
    }

    @Test("a request body reaches the upstream")
    func postBody() async throws {
        let upstream = try await RecordingUpstream.start()
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: upstream.port)])
        defer { Task { await upstream.stop() } }
        let response = try await TestHTTPClient.request(
            port: edge.httpsPort, method: .POST, path: "/login",
            headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: "email=a%40b.c&password=x", tls: edge.tls)
        await edge.stop()
        #expect(response.status == 200)
        #expect(upstream.requests.first?.body == "email=a%40b.c&password=x")
        #expect(upstream.requests.first?.method == "POST")
    }

    @Test("an upstream that refuses connections gives 502, as HTML or JSON")
    func badGateway() async throws {
        let refusing = try RefusingPort()
        defer { withExtendedLifetime(refusing) {} }
        let closedPort = refusing.port
        let log = CapturedLog()
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: closedPort)],
                                               logger: log.logger(level: .error))
        let html = try await TestHTTPClient.request(port: edge.httpsPort, path: "/", tls: edge.tls)
        let json = try await TestHTTPClient.request(port: edge.httpsPort, path: "/api/v1/tasks",
                                                    headers: [("Accept", "application/json")], tls: edge.tls)
        await edge.stop()
        #expect(html.status == 502)
        #expect(html.header("Content-Type")?.hasPrefix("text/html") == true)
        #expect(html.body.contains("Serviço indisponível"))
        #expect(json.status == 502)
        #expect(json.header("Content-Type") == "application/json")
        #expect(json.body.contains("\"error\":\"502\""))
        // The error log says who asked, for which site, and which upstream failed.
        let line = try #require(log.all.first { $0.message == "upstream unreachable" })
        #expect(line.metadata["client"] == "127.0.0.1")
        #expect(line.metadata["upstream"] == "127.0.0.1:\(closedPort)")
        #expect(line.metadata["site"] != nil && line.metadata["site"] != "-", "\(line.metadata)")
        #expect(line.metadata["uri"] == "/")
        #expect(line.metadata["error"] == "Connection refused (errno \(ECONNREFUSED))", "\(line.metadata)")
    }

    @Test("an upstream slower than proxy_timeout gives 504")
    func gatewayTimeout() async throws {
        let upstream = try await RecordingUpstream.start(delay: .seconds(3))
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: upstream.port)]) {
            $0.proxyTimeoutSeconds = 1
        }
        defer { Task { await upstream.stop() } }
        let response = try await TestHTTPClient.request(port: edge.httpsPort, path: "/slow", tls: edge.tls)
        await edge.stop()
        #expect(response.status == 504)
    }

    @Test("an upload that keeps flowing for longer than proxy_timeout is not cut off")
    func slowUploadWithinTimeout() async throws {
        let upstream = try await RecordingUpstream.start()
        let edge = try await EdgeFixture.start(upstreams: [], configure: EdgeFixture.plainSite(proxyingTo: upstream.port) {
            $0.proxyTimeoutSeconds = 1
        })
        // Eight pieces 0.3 s apart: 2.4 s of steady upload against a 1 s proxy_timeout.
        let piece = String(repeating: "x", count: 1000)
        let head = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: \(8 * piece.utf8.count)\r\nConnection: close\r\n\r\n"
        let result = try await RawSocketClient.exchange(port: edge.httpPort, chunks: [head] + Array(repeating: piece, count: 8),
                                                        gap: .milliseconds(300), timeout: .seconds(8))
        await edge.stop()
        await upstream.stop()
        #expect(result.statuses == [200])
        #expect(upstream.requests.first?.body.count == 8000)
    }

    @Test("a client that stops sending its body is the client's fault: 408 at the body deadline, not 504")
    func stalledUploadIsNotAnUpstreamTimeout() async throws {
        let upstream = try await RecordingUpstream.start()
        let edge = try await EdgeFixture.start(upstreams: [], configure: EdgeFixture.plainSite(proxyingTo: upstream.port) {
            $0.proxyTimeoutSeconds = 1
            $0.requestBodyTimeoutSeconds = 2
            $0.minRateBytesPerSecond = 0
        })
        let head = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
        let started = NIODeadline.now()
        let result = try await RawSocketClient.exchange(port: edge.httpPort, chunks: [head, "0123456789"],
                                                        gap: .milliseconds(100), timeout: .seconds(6))
        let waited = NIODeadline.now() - started
        await edge.stop()
        await upstream.stop()
        #expect(result.statuses == [408], "\(result.response.prefix(200))")
        #expect(waited >= .milliseconds(1_800), "cut at the body deadline, not at proxy_timeout")
    }

    @Test("proxy_timeout also holds for a later request on a kept-alive connection")
    func gatewayTimeoutOnReusedConnection() async throws {
        let upstream = try await RecordingUpstream.start { request, _ in
            ScriptedResponse(body: "ok", delay: request.uri == "/slow" ? .seconds(6) : request.uri == "/medium" ? .milliseconds(600) : .zero)
        }
        // A 2 s timeout against a 0.6 s answer: room for a loaded machine.
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: upstream.port)]) {
            $0.proxyTimeoutSeconds = 2
        }
        defer { Task { await upstream.stop() } }
        let base = "https://localhost:\(edge.httpsPort)"
        let certificate = edge.certificateFile
        // Three requests on one connection: fast, 0.6 s (under the timeout), then one the upstream
        // sits on. The timeout counts from the last request's own start, not the connection's first.
        let output = try await EdgeHTTP2Tests.curlOutput([
            "--max-time", "20", "--cacert", certificate, "--resolve", "localhost:\(edge.httpsPort):127.0.0.1",
            "-o", "/dev/null", "-w", "%{http_code} %{num_connects} %{time_total}\\n",
            base + "/fast", "-o", "/dev/null", base + "/medium", "-o", "/dev/null", base + "/slow",
        ])
        await edge.stop()
        let lines = output.split(separator: "\n").map { $0.split(separator: " ") }
        #expect(lines.count == 3, "\(output)")
        guard lines.count == 3 else { return }
        #expect(lines.map { String($0[0]) } == ["200", "200", "504"])
        // The third request reused the connection and waited about proxy_timeout, not the upstream's 6 s.
        #expect(lines[2][1] == "0")
        let waited = Double(lines[2][2]) ?? 0
        #expect(waited >= 1.9 && waited < 5.0, "\(waited)")
    }

    @Test("upstreams written as Apache URLs map the route's path onto theirs, and Location back")
    func prefixMapping() async throws {
        let upstream = try await RecordingUpstream.start(responder: { request, _ in
            ScriptedResponse(status: 302, headers: [("Location", "http://127.0.0.1:\(request.header("X-Test-Port") ?? "")/login?next=%2F")],
                             body: "")
        })
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            var site = SiteSettings(name: "p", hosts: ["*"], routes: [
                RouteSettings(path: "/api", upstreams: ["http://127.0.0.1:\(upstream.port)/"]),
                RouteSettings(path: "/legacy/", upstreams: ["http://127.0.0.1:\(upstream.port)/app/v1/"]),
                RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"]),
            ])
            site.routes[0].upstreamPath = "/"
            site.routes[1].upstreamPath = "/app/v1/"
            site.redirectToHTTPS = false
            edge.sites = [site]
        }
        var locations: [String] = []
        for path in ["/api/tasks?page=2", "/api", "/legacy/x/y", "/plain/z"] {
            let response = try await TestHTTPClient.request(port: edge.httpPort, path: path,
                                                            headers: [("X-Test-Port", String(upstream.port))])
            locations.append(response.header("Location") ?? "")
        }
        await edge.stop()
        await upstream.stop()
        #expect(upstream.requests.map(\.uri) == ["/tasks?page=2", "/", "/app/v1/x/y", "/plain/z"])
        let port = edge.httpPort
        // `/login` is outside `/app/v1/`, so the legacy route leaves that Location as it is.
        #expect(locations == ["http://127.0.0.1:\(port)/api/login?next=%2F", "http://127.0.0.1:\(port)/api/login?next=%2F",
                              "http://127.0.0.1:\(upstream.port)/login?next=%2F", "http://127.0.0.1:\(port)/login?next=%2F"])
    }

    @Test("a route's own root maps to the upstream path as written, trailing slash included")
    func prefixMappingRoot() async throws {
        let upstream = try await RecordingUpstream.start()
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            var site = SiteSettings(name: "p", hosts: ["*"], routes: [
                RouteSettings(path: "/strip", upstreams: ["http://127.0.0.1:\(upstream.port)/inner/"])])
            site.routes[0].upstreamPath = "/inner/"
            site.redirectToHTTPS = false
            edge.sites = [site]
        }
        for path in ["/strip", "/strip?a=1", "/strip/", "/strip/b"] {
            _ = try await TestHTTPClient.request(port: edge.httpPort, path: path)
        }
        await edge.stop()
        await upstream.stop()
        #expect(upstream.requests.map(\.uri) == ["/inner/", "/inner/?a=1", "/inner/", "/inner/b"])
    }

    @Test("plain HTTP answers 301 to HTTPS with path and query kept")
    func redirect() async throws {
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: 9)])
        let response = try await TestHTTPClient.request(
            port: edge.httpPort, path: "/tasks?status=open&x=%20", headers: [("Host", "portal.example.com.br")])
        let spoofed = try await TestHTTPClient.request(
            port: edge.httpPort, path: "/a", headers: [("Host", "evil.example\">")])
        await edge.stop()
        #expect(response.status == 301)
        #expect(response.header("Location") == "https://portal.example.com.br:\(edge.httpsPort)/tasks?status=open&x=%20")
        #expect(spoofed.status == 400)
        #expect(spoofed.header("Location") == nil)
    }

    @Test("upstream connections are kept alive and reused")
    func upstreamKeepAlive() async throws {
        let upstream = try await RecordingUpstream.start()
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: upstream.port)])
        defer { Task { await upstream.stop() } }
        for index in 0..<8 {
            let response = try await TestHTTPClient.request(port: edge.httpsPort, path: "/\(index)", tls: edge.tls)
            #expect(response.status == 200)
        }
        await edge.stop()
        #expect(upstream.requests.count == 8)
        // One pool per event loop: at most one connection per loop for sequential requests.
        #expect(upstream.connectionCount <= ProcessInfo.processInfo.activeProcessorCount)
    }

    @Test("TLS older than 1.2 is refused")
    func oldTLSRefused() async throws {
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: 9)])
        var tls = edge.tls
        tls.maximumVersion = .tlsv11
        await #expect(throws: (any Error).self) {
            _ = try await TestHTTPClient.request(port: edge.httpsPort, path: "/", tls: tls)
        }
        await edge.stop()
    }

    @Test("the access log gets one Combined Log Format line per request")
    func accessLog() async throws {
        let upstream = try await RecordingUpstream.start()
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: upstream.port)])
        defer { Task { await upstream.stop() } }
        _ = try await TestHTTPClient.request(port: edge.httpsPort, path: "/tasks?x=1",
                                             headers: [("User-Agent", "test-agent \"quoted\""), ("Referer", "https://r/")],
                                             tls: edge.tls)
        let logPath = DataDirectory(edge.directory.path).accessLogFile
        let directory = edge.directory
        await edge.group.triggerGracefulShutdown()
        _ = try? await edge.task.value
        let text = try String(contentsOfFile: logPath, encoding: .utf8)
        directory.remove()
        let line = try #require(text.split(separator: "\n").first { $0.contains("/tasks?x=1") })
        let pattern = #"^127\.0\.0\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET /tasks\?x=1 HTTP/1\.1" 200 19 "https://r/" "test-agent \\"quoted\\""$"#
        #expect(line.range(of: pattern, options: .regularExpression) != nil, "\(line)")
    }

    @Test("the access log names the basic-auth user, logs refused and abandoned requests, and invents nothing")
    func accessLogDetails() async throws {
        let upstream = try await RecordingUpstream.start()
        // Accepts the request and never answers it.
        let silent = try await ScriptedUpstream.start(.sink(bytes: 1_000_000))
        let directory = try TemporaryDirectory(prefix: "portal-log")
        defer { directory.remove() }
        let passwords = directory.file("htpasswd")
        try "alice:\(Bcrypt.hash("segredo", cost: 4))\n".write(toFile: passwords, atomically: true, encoding: .utf8)
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            var admin = RouteSettings(path: "/admin", upstreams: ["127.0.0.1:\(upstream.port)"])
            admin.access.basicAuthFile = passwords
            var small = RouteSettings(path: "/small", upstreams: ["127.0.0.1:\(upstream.port)"])
            small.maxBodyBytes = 10
            var site = SiteSettings(name: "p", hosts: ["*"], routes: [
                admin, small, RouteSettings(path: "/silent", upstreams: ["127.0.0.1:\(silent.port)"]),
                RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"]),
            ])
            site.redirectToHTTPS = false
            edge.sites = [site]
        }
        let credentials = Data("alice:segredo".utf8).base64EncodedString()
        _ = try await TestHTTPClient.request(port: edge.httpPort, path: "/admin/x", headers: [("Authorization", "Basic \(credentials)")])
        _ = try await RawSocketClient.exchange(port: edge.httpPort, chunks: ["GARBAGE\r\n\r\n"])
        _ = try await RawSocketClient.exchange(
            port: edge.httpPort, chunks: ["POST /small/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n" + String(repeating: "z", count: 2048)])
        // A client that connects and leaves, or leaves in the middle of its head: nothing to log.
        _ = try await RawSocketClient.exchange(port: edge.httpPort, chunks: [], timeout: .milliseconds(100))
        _ = try await RawSocketClient.exchange(port: edge.httpPort, chunks: ["GET /half HTTP/1.1\r\nHo"], timeout: .milliseconds(100))
        // A client that gives up waiting for its answer: logged, with nginx's 499.
        // (A second of patience, so that a loaded machine has read the head before the client leaves.)
        _ = try await RawSocketClient.exchange(port: edge.httpPort, chunks: ["GET /silent HTTP/1.1\r\nHost: x\r\n\r\n"],
                                               timeout: .seconds(1))
        try await Task.sleep(for: .milliseconds(100))
        let logPath = DataDirectory(edge.directory.path).accessLogFile
        await edge.group.triggerGracefulShutdown()
        _ = try? await edge.task.value
        let lines = try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n").map(String.init)
        edge.directory.remove()
        await upstream.stop()
        await silent.stop()
        #expect(lines.count == 4, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("127.0.0.1 - alice [") && $0.contains("\"GET /admin/x HTTP/1.1\" 200") })
        #expect(lines.contains { $0.contains("\"GARBAGE\" 400") })
        #expect(lines.contains { $0.contains("\"POST /small/x HTTP/1.1\" 413") })
        #expect(lines.contains { $0.contains("\"GET /silent HTTP/1.1\" 499 -") }, "\(lines)")
    }

    @Test("a request cut off by a graceful stop's drain timeout is in the access log when the stop ends")
    func drainCutLogged() async throws {
        // Accepts the request and never answers it.
        let silent = try await ScriptedUpstream.start(.sink(bytes: 1_000_000))
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            var site = SiteSettings(name: "p", hosts: ["*"], routes: [RouteSettings(path: "/", upstreams: ["127.0.0.1:\(silent.port)"])])
            site.redirectToHTTPS = false
            edge.sites = [site]
            edge.drainTimeoutSeconds = 1
        }
        let (client, _) = try await RawSocketClient.open(port: edge.httpPort)
        try await client.writeAndFlush(ByteBuffer(string: "GET /waiting HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(await silent.waitForHeads(1), "the request reached the upstream before the stop")
        let logPath = DataDirectory(edge.directory.path).accessLogFile
        await edge.group.triggerGracefulShutdown()
        _ = try? await edge.task.value
        // Read at once: the line must have been written before the stop returned.
        let lines = try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n").map(String.init)
        try? await client.close()
        edge.directory.remove()
        await silent.stop()
        #expect(lines.contains { $0.contains("\"GET /waiting HTTP/1.1\" 499 -") }, "\(lines)")
    }

    @Test("an HTTP/1.0 client gets an HTTP/1.1 status line, and a stream without length close-delimited, never chunked")
    func http10Answers() async throws {
        let upstream = try await RecordingUpstream.start()
        let events = try await ScriptedUpstream.start(.events(["data: um\n\n", "data: dois\n\n"], gap: .milliseconds(20)))
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            var site = SiteSettings(name: "p", hosts: ["*"], routes: [
                RouteSettings(path: "/events", upstreams: ["127.0.0.1:\(events.port)"]),
                RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"]),
            ])
            site.redirectToHTTPS = false
            edge.sites = [site]
        }
        let sized = try await RawSocketClient.exchange(port: edge.httpPort, chunks: ["GET /a HTTP/1.0\r\nHost: x\r\n\r\n"])
        let stream = try await RawSocketClient.exchange(port: edge.httpPort, chunks: ["GET /events HTTP/1.0\r\nHost: x\r\n\r\n"])
        await edge.stop()
        await upstream.stop()
        await events.stop()
        #expect(sized.response.hasPrefix("HTTP/1.1 200 "), "\(sized.response.prefix(80))")
        #expect(sized.closedByServer)
        #expect(stream.response.hasPrefix("HTTP/1.0 200 "), "\(stream.response.prefix(80))")
        #expect(!stream.response.lowercased().contains("transfer-encoding"))
        #expect(stream.response.hasSuffix("\r\n\r\ndata: um\n\ndata: dois\n\n"), "\(stream.response)")
        #expect(stream.closedByServer)
    }
}
