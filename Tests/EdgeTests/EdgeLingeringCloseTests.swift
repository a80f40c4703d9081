import Edge
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PortalCore
import PortalTestSupport
import Testing

/// A client still sending when the edge refuses its request gets the answer and a clean end of
/// the connection (lingering close), not a reset that would destroy the answer.
@Suite("Edge: lingering close", .serialized)
struct EdgeLingeringCloseTests {
    /// Records what a half-closable client connection sees: bytes, the server's end of
    /// sending, and errors (a reset shows as one).
    final class Watcher: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        private let state = NIOLockedValueBox((bytes: [UInt8](), inputClosed: false, error: String?.none))

        var text: String { state.withLockedValue { String(decoding: $0.bytes, as: UTF8.self) } }
        var inputClosed: Bool { state.withLockedValue { $0.inputClosed } }
        var error: String? { state.withLockedValue { $0.error } }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            state.withLockedValue { $0.bytes += buffer.readableBytesView }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? ChannelEvent, event == .inputClosed {
                state.withLockedValue { $0.inputClosed = true }
            }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            state.withLockedValue { $0.error = "\(error)" }
            context.close(promise: nil)
        }

        func waitFor(_ condition: @escaping @Sendable (Watcher) -> Bool, timeout: TimeAmount) async -> Bool {
            let deadline = NIODeadline.now() + timeout
            while NIODeadline.now() < deadline {
                if condition(self) { return true }
                try? await Task.sleep(nanoseconds: 20_000_000)
            }
            return condition(self)
        }
    }

    static func open(port: Int) async throws -> (any Channel, Watcher) {
        let watcher = Watcher()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(watcher) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return (channel, watcher)
    }

    /// Sends `count` pieces of 64 KiB; returns how many the connection took without an error.
    static func keepSending(_ channel: any Channel, count: Int) async -> Int {
        let piece = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 * 1024)
        for index in 0..<count {
            do {
                try await channel.writeAndFlush(piece)
            } catch {
                return index
            }
            try? await Task.sleep(nanoseconds: 5_000_000)
        }
        return count
    }

    @Test("a client still sending after its refusal gets the answer, is drained, and sees FIN, not a reset", arguments: [
        ("an upload over the body limit", "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n", 413),
        ("a malformed head", "GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", 400),
    ] as [(String, String, Int)])
    func refusedClientIsDrained(name: String, request: String, status: Int) async throws {
        let upstream = try await RecordingUpstream.start()
        let edge = try await EdgeFixture.start(upstreams: [], configure: EdgeRequestHygieneTests.plainSite(upstream))
        let (channel, watcher) = try await Self.open(port: edge.httpPort)
        try await channel.writeAndFlush(ByteBuffer(string: request))
        let sent = await Self.keepSending(channel, count: 40)
        let ended = await watcher.waitFor({ $0.inputClosed }, timeout: .seconds(5))
        try? await Task.sleep(nanoseconds: 100_000_000)
        let error = watcher.error
        let text = watcher.text
        try? await channel.close()
        await edge.stop()
        await upstream.stop()
        #expect(text.hasPrefix("HTTP/1.1 \(status) "), "\(name): \(text.prefix(120))")
        #expect(text.contains("Connection: close"), "\(name)")
        #expect(sent == 40, "\(name): the edge kept reading what the client sent after its answer")
        #expect(ended, "\(name): the edge ended its side of the connection")
        #expect(error == nil, "\(name): no reset: \(error ?? "")")
        #expect(upstream.requests.isEmpty, "\(name)")
    }
}
