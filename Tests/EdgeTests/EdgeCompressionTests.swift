import CompressNIO
import Edge
import Foundation
import NIOCore
import PortalCore
import PortalTestSupport
import Testing

@Suite("Edge: compression (mod_deflate)", .serialized)
struct EdgeCompressionTests {
    static let page = "<!DOCTYPE html><html><body>" + String(repeating: "<p>Tarefa: revisar o balancete do mês.</p>\n", count: 400) + "</body></html>"

    static func gunzip(_ text: String) throws -> String {
        var input = ByteBuffer(bytes: Array(text.utf8))
        return String(buffer: try input.decompress(with: .gzip()))
    }

    static func fetch(contentType: String = "text/html", body: String = page, extra: [(String, String)] = [],
                      requestHeaders: [(String, String)], method: HTTPTestMethod = .get) async throws -> RawSocketClient.Result {
        let upstream = try await RecordingUpstream.start(responseBody: body, contentType: contentType, extraHeaders: extra)
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            var site = SiteSettings(name: "p", hosts: ["*"], routes: [RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"])])
            site.redirectToHTTPS = false
            edge.sites = [site]
        }
        let head = "\(method.rawValue) /page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            + requestHeaders.map { "\($0.0): \($0.1)\r\n" }.joined() + "\r\n"
        let result = try await RawSocketClient.exchange(port: edge.httpPort, chunks: [head], timeout: .seconds(5))
        await edge.stop()
        await upstream.stop()
        return result
    }

    enum HTTPTestMethod: String { case get = "GET", head = "HEAD" }

    /// Splits a raw response into headers and a de-chunked body.
    static func parse(_ raw: String) -> (headers: [String: String], body: String) {
        guard let split = raw.range(of: "\r\n\r\n") else { return ([:], "") }
        var headers: [String: String] = [:]
        for line in raw[..<split.lowerBound].split(separator: "\r\n").dropFirst() {
            if let colon = line.firstIndex(of: ":") {
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        var body = String(raw[split.upperBound...])
        if headers["transfer-encoding"] == "chunked" {
            var bytes = Array(body.utf8)[...]
            var decoded: [UInt8] = []
            while let lineEnd = bytes.firstRange(of: [13, 10]) {
                let size = Int(String(decoding: bytes[..<lineEnd.lowerBound], as: UTF8.self), radix: 16) ?? 0
                bytes = bytes[lineEnd.upperBound...]
                if size == 0 { break }
                decoded += bytes.prefix(size)
                bytes = bytes.dropFirst(size + 2)
            }
            body = String(decoding: decoded, as: UTF8.self)
        }
        return (headers, body)
    }

    @Test("HTML is gzipped when the client asks, with Vary, no length, and a weak ETag")
    func gzip() async throws {
        let result = try await Self.fetch(extra: [("ETag", "\"v1\"")], requestHeaders: [("Accept-Encoding", "br;q=0, gzip;q=0.8")])
        let response = Self.parse(result.response)
        #expect(response.headers["content-encoding"] == "gzip")
        #expect(response.headers["vary"] == "Accept-Encoding")
        #expect(response.headers["content-length"] == nil)
        #expect(response.headers["etag"] == "W/\"v1\"")
        // The raw body is binary; check the compressed size and the round trip through bytes.
        let rawBody = result.response.utf8.count - (result.response.range(of: "\r\n\r\n").map { result.response[..<$0.upperBound].utf8.count } ?? 0)
        #expect(rawBody < Self.page.utf8.count / 4)
    }

    @Test("the compressed body decompresses to the original")
    func roundTrip() async throws {
        let upstream = try await RecordingUpstream.start(responseBody: Self.page, contentType: "text/html; charset=utf-8")
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: upstream.port)])
        let response = try await TestHTTPClient.requestBytes(port: edge.httpsPort, path: "/",
                                                             headers: [("Accept-Encoding", "gzip")], tls: edge.tls)
        await edge.stop()
        await upstream.stop()
        #expect(response.header("Content-Encoding") == "gzip")
        var buffer = ByteBuffer(bytes: response.bytes)
        let original = String(buffer: try buffer.decompress(with: .gzip()))
        #expect(original == Self.page)
    }

    @Test("no compression without Accept-Encoding, with gzip;q=0, for images, for encoded or small bodies",
          arguments: [
            ("text/html", [] as [(String, String)], [] as [(String, String)], "no accept-encoding", true),
            ("text/html", [("Accept-Encoding", "gzip;q=0, *;q=1")], [], "gzip refused", true),
            ("image/png", [("Accept-Encoding", "gzip")], [], "image", false),
            ("text/html", [("Accept-Encoding", "gzip")], [("Content-Encoding", "br")], "already encoded", true),
            ("text/html", [("Accept-Encoding", "gzip")], [("Cache-Control", "no-transform")], "no-transform", true),
          ] as [(String, [(String, String)], [(String, String)], String, Bool)])
    func notCompressed(type: String, request: [(String, String)], extra: [(String, String)], name: String, vary: Bool) async throws {
        let result = try await Self.fetch(contentType: type, extra: extra, requestHeaders: request)
        let response = Self.parse(result.response)
        #expect(response.headers["content-encoding"] != "gzip", "\(name)")
        #expect((response.headers["vary"] == "Accept-Encoding") == vary, "\(name)")
        #expect(response.headers["content-length"] == String(Self.page.utf8.count), "\(name)")
    }

    @Test("small bodies are left alone; HEAD gets the fields GET would get, without a body")
    func smallAndHead() async throws {
        let small = try await Self.fetch(body: "tiny", requestHeaders: [("Accept-Encoding", "gzip")])
        #expect(Self.parse(small.response).headers["content-encoding"] == nil)
        #expect(Self.parse(small.response).body == "tiny")
        let head = Self.parse(try await Self.fetch(extra: [("ETag", "\"v1\"")], requestHeaders: [("Accept-Encoding", "gzip")],
                                                   method: .head).response)
        let get = Self.parse(try await Self.fetch(extra: [("ETag", "\"v1\"")], requestHeaders: [("Accept-Encoding", "gzip")]).response)
        for name in ["content-encoding", "etag", "vary"] {
            #expect(head.headers[name] == get.headers[name], "\(name)")
        }
        #expect(head.headers["content-encoding"] == "gzip")
        #expect(head.headers["etag"] == "W/\"v1\"")
        #expect(head.headers["content-length"] == nil)
        #expect(head.body.isEmpty)
    }

    @Test("compressed server-sent events still arrive one by one")
    func compressedEvents() async throws {
        let upstream = try await ScriptedUpstream.start(.events(["data: " + String(repeating: "um ", count: 200) + "\n\n", "data: dois\n\n"], gap: .seconds(5)))
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            edge.compressTypes.append("text/event-stream")
            var site = SiteSettings(name: "p", hosts: ["*"], routes: [RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"])])
            site.redirectToHTTPS = false
            edge.sites = [site]
        }
        let (channel, collector) = try await RawSocketClient.open(port: edge.httpPort)
        try await channel.writeAndFlush(ByteBuffer(string: "GET /e HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"))
        // The second event follows 5 s after the first: what arrives before 4 s is the first alone.
        let deadline = ContinuousClock.now + .seconds(4)
        while Self.bodyBytes(collector.text) <= 20, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let early = collector.text
        try? await channel.close()
        await edge.stop()
        await upstream.stop()
        #expect(early.lowercased().contains("content-encoding: gzip"))
        #expect(Self.bodyBytes(early) > 20, "the first event was flushed compressed before the second was sent")
    }

    /// Bytes after the response head in `text` (0 before the head is complete).
    static func bodyBytes(_ text: String) -> Int {
        text.utf8.count - (text.range(of: "\r\n\r\n").map { text[..<$0.upperBound].utf8.count } ?? text.utf8.count)
    }

    @Test("brotli is preferred when the client accepts it, and decodes to the original")
    func brotli() async throws {
        let upstream = try await RecordingUpstream.start(responseBody: Self.page, contentType: "text/html")
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: upstream.port)])
        let certificate = edge.certificateFile
        let url = "https://localhost:\(edge.httpsPort)/page"
        let result = try await EdgeHTTP2Tests.curl(["--compressed", "-H", "Accept-Encoding: gzip, br", url], certificate: certificate)
        let gzipOnly = try await EdgeHTTP2Tests.curl(["--compressed", "-H", "Accept-Encoding: gzip", url], certificate: certificate)
        await edge.stop()
        await upstream.stop()
        #expect(result.headers.lowercased().contains("content-encoding: br"))
        #expect(result.body == Self.page)
        #expect(gzipOnly.headers.lowercased().contains("content-encoding: gzip"))
        #expect(gzipOnly.body == Self.page)
    }

    @Test("images and archives named in compress_types are never compressed, and the check says so")
    func alreadyCompressedTypes() throws {
        var configuration = PortalConfiguration()
        configuration.edge.compressTypes = ["text/html", "image/png", "application/zip", "image/svg+xml"]
        let runtime = try EdgeRuntime.resolve(configuration, checkOnly: true)
        #expect(runtime.settings.compressTypes == ["text/html", "image/svg+xml"])
        #expect(runtime.warnings.contains { $0.contains("compressed already (image/png, application/zip)") })
    }
}
