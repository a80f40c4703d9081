import Edge
import Foundation
import NIOCore
import PortalCore
import PortalTestSupport
import Testing

/// Upstream answers that are odd but real: what the client gets for each.
@Suite("Edge: odd upstream answers", .serialized)
struct EdgeUpstreamQuirksTests {
    /// The raw answer the edge gives for `request` when the upstream answers `response`.
    static func exchange(upstreamSends response: String, request: String) async throws -> RawSocketClient.Result {
        let upstream = try await ScriptedUpstream.start(.raw(response))
        let edge = try await EdgeFixture.start(upstreams: [], configure: EdgeFixture.plainSite(proxyingTo: upstream.port))
        let result = try await RawSocketClient.exchange(port: edge.httpPort, chunks: [request], timeout: .seconds(3))
        await edge.stop()
        await upstream.stop()
        return result
    }

    @Test("a status below 100 is a broken upstream: 502 at once, not a wait for a final answer")
    func invalidStatus() async throws {
        // The upstream keeps its connection open and says nothing more: a wait for a final answer
        // would outlast the client's 3 s and leave it with no status at all.
        let result = try await Self.exchange(upstreamSends: "HTTP/1.1 099 Weird\r\n\r\n",
                                             request: "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(result.statuses == [502])
        #expect(result.closedByServer)
    }

    @Test("a transfer coding other than chunked is refused with 502, not passed on as plain content", arguments: [
        "gzip, chunked", "chunked, chunked",
    ])
    func unknownTransferCoding(coding: String) async throws {
        let result = try await Self.exchange(
            upstreamSends: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: \(coding)\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            request: "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(result.statuses == [502], "\(result.response.prefix(300))")
        #expect(!result.response.contains("hello"))
    }

    @Test("a body with broken chunk framing: the head and what came before reach the client, then the close")
    func brokenChunkedBody() async throws {
        let result = try await Self.exchange(
            upstreamSends: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n",
            request: "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        // Not an empty reply: the status line arrives, and the unfinished chunked body says the
        // answer is incomplete.
        #expect(result.statuses == [200])
        #expect(result.closedByServer)
        #expect(!result.response.hasSuffix("0\r\n\r\n"))
    }

    @Test("103 Early Hints reach an HTTP/1.1 client before the answer; an HTTP/1.0 client gets only the answer")
    func earlyHints() async throws {
        let upstreamSends = "HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload\r\n\r\n"
            + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        let modern = try await Self.exchange(upstreamSends: upstreamSends, request: "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(modern.statuses == [103, 200])
        #expect(modern.response.contains("Link: </app.css>; rel=preload\r\n"))
        let old = try await Self.exchange(upstreamSends: upstreamSends, request: "GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        #expect(old.statuses == [200])
    }

    @Test("whitespace around an upstream's header value is not passed on")
    func headerValueWhitespace() async throws {
        let result = try await Self.exchange(
            upstreamSends: "HTTP/1.1 200 OK\r\nX-Spaced: value with spaces \t \r\nContent-Length: 2\r\n\r\nok",
            request: "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(result.statuses == [200])
        #expect(result.response.contains("X-Spaced: value with spaces\r\n"))
    }

    @Test("a compressed answer drops Accept-Ranges (its ranges cannot be asked for)")
    func compressedDropsAcceptRanges() async throws {
        let body = String(repeating: "<p>balancete</p>", count: 200)
        let result = try await Self.exchange(
            upstreamSends: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nAccept-Ranges: bytes\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)",
            request: "GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
        let head = result.response.components(separatedBy: "\r\n\r\n").first ?? ""
        #expect(head.contains("Content-Encoding: gzip"))
        #expect(!head.lowercased().contains("accept-ranges"))
    }

    @Test("a 304 confirming the compressed form carries its weak ETag")
    func notModifiedKeepsWeakETag() async throws {
        let result = try await Self.exchange(
            upstreamSends: "HTTP/1.1 304 Not Modified\r\nETag: \"abc\"\r\n\r\n",
            request: "GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nIf-None-Match: W/\"abc\"\r\nConnection: close\r\n\r\n")
        #expect(result.statuses == [304])
        #expect(result.response.contains("ETag: W/\"abc\"\r\n"))
    }
}
