import Edge
import Foundation
import Logging
import PortalCore
import PortalTestSupport
import Testing

/// HTTP/2 through ALPN, checked with curl (built with nghttp2) as a browser-like client.
@Suite("Edge: HTTP/2", .serialized)
struct EdgeHTTP2Tests {
    struct CurlResult {
        let status: Int
        let version: String
        let headers: String
        let body: String
    }

    /// Runs curl with `arguments` and returns what it printed, for tests that read `-w` output of
    /// several transfers.
    static func curlOutput(_ arguments: [String]) async throws -> String {
        try await ExternalCommand.run(["curl", "-s"] + arguments).stdout
    }

    static func curl(_ arguments: [String], certificate: String) async throws -> CurlResult {
        let directory = NSTemporaryDirectory() + "curl-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // `localhost` is pinned to 127.0.0.1, where test edges listen: curl would try ::1 first,
        // which another process may hold.
        let pins = arguments.compactMap { argument -> [String]? in
            guard let url = URL(string: argument), url.host == "localhost", let port = url.port else { return nil }
            return ["--resolve", "localhost:\(port):127.0.0.1"]
        }.flatMap { $0 }
        let printed = try await ExternalCommand.run(
            ["curl", "-s", "--connect-timeout", "10", "--max-time", "60", "--cacert", certificate,
             "-D", directory + "/headers", "-o", directory + "/body", "-w", "%{http_code} %{http_version}"] + pins + arguments).stdout
        let parts = printed.split(separator: " ")
        return CurlResult(status: Int(parts.first ?? "") ?? 0, version: parts.count > 1 ? String(parts[1]) : "",
                          headers: (try? String(contentsOfFile: directory + "/headers", encoding: .utf8)) ?? "",
                          body: (try? String(contentsOfFile: directory + "/body", encoding: .utf8)) ?? "")
    }

    @Test("clients leaving their HTTP/2 connections as curl does are no protocol errors in the error log")
    func clientClosesAreQuiet() async throws {
        let upstream = try await RecordingUpstream.start()
        let log = CapturedLog()
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: upstream.port)],
                                               logger: log.logger(level: .debug))
        let base = "https://localhost:\(edge.httpsPort)"
        var statuses: [Int] = []
        for index in 0..<3 {
            statuses.append(try await Self.curl(["--http2", base + "/\(index)"], certificate: edge.certificateFile).status)
        }
        // Each connection's end reaches the edge after curl has exited.
        for _ in 0..<100 where log.all.filter({ $0.message == "client connection error" }).count < 3 {
            try await Task.sleep(for: .milliseconds(20))
        }
        await edge.stop()
        await upstream.stop()
        #expect(statuses == [200, 200, 200])
        let loud = log.all.filter { $0.level >= .warning }.map { "\($0.message) \($0.metadata)" }
        #expect(loud.isEmpty, "\(loud)")
    }

    @Test("an upstream 204 that claims a length ends its stream cleanly; the connection serves the next request")
    func noContentWithLength() async throws {
        let upstream = try await ScriptedUpstream.start(.raw("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"))
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: upstream.port)])
        let url = "https://localhost:\(edge.httpsPort)/nc"
        let output = try await Self.curlOutput([
            "--http2", "--cacert", edge.certificateFile, "--resolve", "localhost:\(edge.httpsPort):127.0.0.1",
            "-o", "/dev/null", "-w", "%{http_code} %{http_version} %{num_connects}\n", url, url,
        ])
        await edge.stop()
        await upstream.stop()
        // Both answered over one HTTP/2 connection: the second transfer made no new connection.
        #expect(output.split(separator: "\n") == ["204 2 1", "204 2 0"])
    }

    @Test("clients that offer h2 get HTTP/2; proxying, headers, compression, static files and errors work over it")
    func http2() async throws {
        let upstream = try await RecordingUpstream.start(responseBody: String(repeating: "<p>olá</p>", count: 200),
                                                         contentType: "text/html")
        let directory = try TemporaryDirectory(prefix: "portal-h2")
        defer { directory.remove() }
        try FileManager.default.createDirectory(atPath: directory.file("www"), withIntermediateDirectories: true)
        try String(repeating: "x", count: 100_000).write(toFile: directory.file("www/big.txt"), atomically: true, encoding: .utf8)
        let refusing = try RefusingPort()
        defer { withExtendedLifetime(refusing) {} }
        let closed = refusing.port
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            edge.sites = [SiteSettings(name: "h2", hosts: ["*"], routes: [
                RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"]),
                RouteSettings(path: "/static/", root: directory.file("www")),
                RouteSettings(path: "/down", upstreams: ["127.0.0.1:\(closed)"]),
            ])]
        }
        let base = "https://localhost:\(edge.httpsPort)"
        let certificate = edge.certificateFile
        let page = try await Self.curl(["--http2", "--compressed", base + "/tasks"], certificate: certificate)
        let file = try await Self.curl(["--http2", "-r", "0-9", base + "/static/big.txt"], certificate: certificate)
        let whole = try await Self.curl(["--http2", base + "/static/big.txt"], certificate: certificate)
        let down = try await Self.curl(["--http2", base + "/down"], certificate: certificate)
        let old = try await Self.curl(["--http1.1", base + "/tasks"], certificate: certificate)
        await edge.stop()
        await upstream.stop()
        #expect(page.version == "2")
        #expect(page.status == 200)
        #expect(page.body == String(repeating: "<p>olá</p>", count: 200))
        #expect(page.headers.lowercased().contains("content-encoding: br"))
        #expect(page.headers.lowercased().contains("strict-transport-security: max-age=31536000; includesubdomains"))
        #expect(!page.headers.lowercased().contains("connection:"))
        #expect(file.status == 206)
        #expect(file.body == "xxxxxxxxxx")
        #expect(whole.body.utf8.count == 100_000)
        #expect(down.status == 502)
        #expect(old.version == "1.1")
        #expect(old.status == 200)
        let forwarded = try #require(upstream.requests.first)
        #expect(forwarded.header("X-Forwarded-Proto") == "https")
        #expect(forwarded.header("Host") == "localhost:\(edge.httpsPort)")
    }
}
