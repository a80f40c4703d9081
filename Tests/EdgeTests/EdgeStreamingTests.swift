import Edge
import Foundation
import NIOCore
import PortalCore
import PortalTestSupport
import Testing

@Suite("Edge: WebSocket, server-sent events, streaming", .serialized)
struct EdgeStreamingTests {
    @Test("a WebSocket upgrade becomes a byte tunnel both ways")
    func webSocket() async throws {
        let upstream = try await ScriptedUpstream.start(.upgradeEcho(greeting: "ready"))
        let edge = try await EdgeFixture.start(upstreams: [], configure: EdgeFixture.plainSite(proxyingTo: upstream.port))
        let upgrade = "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        let result = try await RawSocketClient.exchange(port: edge.httpPort, chunks: [upgrade, "hello", " tunnel"],
                                                        gap: .milliseconds(200), timeout: .seconds(5),
                                                        until: { $0.hasSuffix("readyHELLO TUNNEL") })
        await edge.stop()
        await upstream.stop()
        #expect(result.response.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        #expect(result.response.lowercased().contains("upgrade: websocket"))
        #expect(result.response.hasSuffix("readyHELLO TUNNEL"))
    }

    @Test("bytes that come with the 101 or with the upgrade request go through the tunnel at once")
    func webSocketFirstBytes() async throws {
        let upstream = try await ScriptedUpstream.start(.upgradeEcho(greeting: "ready"))
        let edge = try await EdgeFixture.start(upstreams: [], configure: EdgeFixture.plainSite(proxyingTo: upstream.port))
        let upgrade = "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        // The upstream speaks first, in the same write as its 101; the client says nothing.
        let silent = try await RawSocketClient.exchange(port: edge.httpPort, chunks: [upgrade], timeout: .seconds(5),
                                                        until: { $0.hasSuffix("ready") })
        // The client sends its first frame in the same write as the upgrade request.
        let eager = try await RawSocketClient.exchange(port: edge.httpPort, chunks: [upgrade + "hello"], timeout: .seconds(5),
                                                       until: { $0.hasSuffix("readyHELLO") })
        await edge.stop()
        await upstream.stop()
        #expect(silent.response.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        #expect(silent.response.hasSuffix("ready"))
        #expect(eager.response.hasSuffix("readyHELLO"))
    }

    @Test("a request that does not ask for WebSocket gets no upgrade headers upstream")
    func noUpgradeWithoutConnection() async throws {
        let upstream = try await RecordingUpstream.start()
        let edge = try await EdgeFixture.start(upstreams: [], configure: EdgeFixture.plainSite(proxyingTo: upstream.port))
        _ = try await TestHTTPClient.request(port: edge.httpPort, path: "/", headers: [("Upgrade", "websocket")])
        await edge.stop()
        await upstream.stop()
        #expect(upstream.requests.first?.header("Upgrade") == nil)
    }

    @Test("server-sent events reach the client as each one is sent")
    func serverSentEvents() async throws {
        let upstream = try await ScriptedUpstream.start(.events(["data: one\n\n", "data: two\n\n"], gap: .seconds(2)))
        let edge = try await EdgeFixture.start(upstreams: [], configure: EdgeFixture.plainSite(proxyingTo: upstream.port))
        let (channel, collector) = try await RawSocketClient.open(port: edge.httpPort)
        try await channel.writeAndFlush(ByteBuffer(string: "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"))
        var sawFirst = false
        for _ in 0..<50 where !sawFirst {
            try await Task.sleep(for: .milliseconds(20))
            sawFirst = collector.text.contains("data: one")
        }
        let secondTooEarly = collector.text.contains("data: two")
        var sawSecond = false
        for _ in 0..<150 where !sawSecond {
            try await Task.sleep(for: .milliseconds(20))
            sawSecond = collector.text.contains("data: two")
        }
        try? await channel.close()
        await edge.stop()
        await upstream.stop()
        #expect(sawFirst, "the first event arrived within a second")
        #expect(!secondTooEarly)
        #expect(sawSecond)
    }

    @Test("a large download streams through with backpressure")
    func largeDownload() async throws {
        let size = 64 * 1024 * 1024
        let upstream = try await ScriptedUpstream.start(.largeBody(bytes: size))
        let edge = try await EdgeFixture.start(upstreams: [], configure: EdgeFixture.plainSite(proxyingTo: upstream.port))
        let result = try await RawSocketClient.countingExchange(port: edge.httpPort,
                                                                request: "GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                                                timeout: .seconds(60))
        await edge.stop()
        await upstream.stop()
        #expect(result.closedByServer)
        #expect(result.bytes > size)
        #expect(result.bytes < size + 1024)
    }

    @Test("a large upload streams through to the upstream")
    func largeUpload() async throws {
        let size = 32 * 1024 * 1024
        let upstream = try await ScriptedUpstream.start(.sink(bytes: size))
        let edge = try await EdgeFixture.start(upstreams: [], configure: EdgeFixture.plainSite(proxyingTo: upstream.port))
        let channel = try await RawSocketClient.open(port: edge.httpPort).0
        try await channel.writeAndFlush(ByteBuffer(string: "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: \(size)\r\n\r\n"))
        let piece = ByteBuffer(repeating: UInt8(ascii: "u"), count: 1024 * 1024)
        for _ in 0..<(size / piece.readableBytes) {
            try await channel.writeAndFlush(piece)
        }
        for _ in 0..<300 where upstream.bytesReceived < size {
            try await Task.sleep(for: .milliseconds(50))
        }
        try? await channel.close()
        await edge.stop()
        await upstream.stop()
        #expect(upstream.bytesReceived == size)
    }
}
