import Edge
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHPACK
import NIOHTTP2
import PortalCore
import PortalTestSupport
import Testing

/// A body on a method that seldom has one (GET, HEAD, DELETE, OPTIONS) must reach the upstream
/// framed, or not at all: NIO's request encoder frames such a body only when the head says how,
/// and unframed bytes after a head are a second request to the upstream (request smuggling).
@Suite("Edge: request bodies are always framed for the upstream", .serialized)
struct EdgeBodyFramingTests {
    static let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\nX-Swallow: "

    static func chunk(_ text: String) -> String {
        String(text.utf8.count, radix: 16) + "\r\n" + text + "\r\n0\r\n\r\n"
    }

    @Test("a chunked or sized body on a GET-like method goes upstream with its framing", arguments: [
        ("GET, chunked", "GET /attack HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(smuggled)),
        ("DELETE, chunked", "DELETE /attack HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(smuggled)),
        ("OPTIONS, chunked", "OPTIONS /attack HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(smuggled)),
        ("GET, length dropped by Connection", "GET /attack HTTP/1.1\r\nHost: x\r\nConnection: Content-Length\r\n"
            + "Content-Length: \(smuggled.utf8.count)\r\n\r\n" + smuggled),
    ] as [(String, String)])
    func framedOnHTTP1(name: String, request: String) async throws {
        let upstream = try await RecordingUpstream.start()
        let edge = try await EdgeFixture.start(upstreams: [], configure: EdgeRequestHygieneTests.plainSite(upstream))
        // A second client right after: with an unframed body it would get the attacker's answer.
        let attack = try await RawSocketClient.exchange(port: edge.httpPort, chunks: [request])
        let victim = try await TestHTTPClient.request(port: edge.httpPort, path: "/victim",
                                                      headers: [("Host", "x"), ("Cookie", "session=secret")])
        await edge.stop()
        await upstream.stop()
        #expect(attack.statuses == [200], "\(name): \(attack.response.prefix(200))")
        #expect(victim.status == 200)
        #expect(upstream.requests.map(\.uri) == ["/attack", "/victim"], "\(name)")
        #expect(upstream.requests.first?.body == Self.smuggled, "\(name): the body arrives whole, as a body")
        #expect(upstream.requests.last?.header("Cookie") == "session=secret")
    }

    @Test("request trailers never reach the upstream, whether the body ends before or after it is connected",
          arguments: [true, false])
    func requestTrailersDropped(split: Bool) async throws {
        let upstream = try await RecordingUpstream.start()
        let edge = try await EdgeFixture.start(upstreams: [], configure: EdgeRequestHygieneTests.plainSite(upstream))
        let head = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n"
        let tail = "0\r\nX-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nAuthorization: Basic eDp5\r\nX-T: one\r\n\r\n"
        let result = try await RawSocketClient.exchange(port: edge.httpPort, chunks: split ? [head, tail] : [head + tail],
                                                        gap: .milliseconds(300))
        await edge.stop()
        await upstream.stop()
        #expect(result.statuses == [200])
        let request = try #require(upstream.requests.first)
        #expect(request.body == "hello")
        #expect(request.trailers.isEmpty, "\(request.trailers)")
        #expect(request.header("X-Forwarded-For") == "127.0.0.1")
    }

    @Test("a POST, PUT or PATCH without a body goes upstream with Content-Length: 0, not chunked")
    func bodilessPost() async throws {
        let upstream = try await RecordingUpstream.start()
        let edge = try await EdgeFixture.start(upstreams: [], configure: EdgeRequestHygieneTests.plainSite(upstream))
        for method in ["POST", "PUT", "PATCH"] {
            let result = try await RawSocketClient.exchange(port: edge.httpPort,
                                                            chunks: ["\(method) /empty HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"])
            #expect(result.statuses == [200], "\(method)")
        }
        await edge.stop()
        await upstream.stop()
        #expect(upstream.requests.count == 3)
        for request in upstream.requests {
            #expect(request.header("Content-Length") == "0", "\(request.method)")
            #expect(request.header("Transfer-Encoding") == nil, "\(request.method)")
        }
    }

    @Test("HTTP/2: DATA after a GET head without a length gets 400 and never reaches the upstream")
    func unframedOnHTTP2() async throws {
        let upstream = try await RecordingUpstream.start()
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            var site = SiteSettings(name: "h2", hosts: ["localhost"], routes: [
                RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"])])
            site.redirectToHTTPS = false
            edge.sites = [site]
        }
        let recorder = EdgeHTTP2AuthorityTests.StatusRecorder()
        let channel = try await edge.rawHTTP2Connection(handler: recorder)
        let head = HPACKHeaders([(":method", "GET"), (":path", "/attack"), (":scheme", "https"), (":authority", "localhost")])
        try await channel.writeAndFlush(HTTP2Frame(streamID: 1, payload: .headers(.init(headers: head, endStream: false))))
        let data = ByteBuffer(string: Self.smuggled + "\r\n\r\n")
        try await channel.writeAndFlush(HTTP2Frame(streamID: 1, payload: .data(.init(data: .byteBuffer(data), endStream: true))))
        for _ in 0..<100 where recorder.statuses.withLockedValue({ $0[1] }) == nil && recorder.resets.withLockedValue({ $0.isEmpty }) {
            try await Task.sleep(for: .milliseconds(50))
        }
        try? await channel.close()
        await edge.stop()
        await upstream.stop()
        let status = recorder.statuses.withLockedValue { $0[1] }
        #expect(status == "400" || (status == nil && !recorder.resets.withLockedValue { $0 }.isEmpty))
        #expect(!upstream.requests.contains { $0.uri.contains("smuggled") })
        #expect(upstream.requests.allSatisfy { $0.body.isEmpty })
    }
}
