import Foundation
import NIOConcurrencyHelpers
public import NIOCore
import NIOPosix

/// Small upstreams that speak raw bytes, for behaviour a recording upstream cannot show:
/// WebSocket upgrades, server-sent events flushed over time, and very large streamed bodies.
public final class ScriptedUpstream: Sendable {
    public enum Script: Sendable {
        /// Answers the first request with `101 Switching Protocols`, sends `greeting`, then echoes
        /// every byte upper-cased.
        case upgradeEcho(greeting: String)
        /// Sends a chunked `text/event-stream` response: each event, then `gap`, then the next.
        case events([String], gap: TimeAmount)
        /// Sends `bytes` of body (generated, never held whole) after reading the request head,
        /// with backpressure; counts request body bytes it reads.
        case largeBody(bytes: Int)
        /// Reads `bytes` of request body, then answers `200 ok`.
        case sink(bytes: Int)
        /// Answers the request head with these exact bytes, keeping the connection open.
        case raw(String)
    }

    public let port: Int
    private let channel: any Channel
    private let received: NIOLockedValueBox<Int>
    private let heads: NIOLockedValueBox<Int>

    /// Request body bytes the upstream has read (for `largeBody`).
    public var bytesReceived: Int { received.withLockedValue { $0 } }

    /// Request heads the upstream has read in full, over all its connections.
    public var headsReceived: Int { heads.withLockedValue { $0 } }

    /// Waits up to `timeout` until `count` request heads have arrived; true when they did.
    public func waitForHeads(_ count: Int, timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while headsReceived < count, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return headsReceived >= count
    }

    public static func start(_ script: Script) async throws -> ScriptedUpstream {
        let received = NIOLockedValueBox(0)
        let heads = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ScriptHandler(script: script, received: received, heads: heads))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return ScriptedUpstream(channel: channel, received: received, heads: heads)
    }

    private init(channel: any Channel, received: NIOLockedValueBox<Int>, heads: NIOLockedValueBox<Int>) {
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
        self.received = received
        self.heads = heads
    }

    public func stop() async {
        try? await channel.close()
    }
}

final class ScriptHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let script: ScriptedUpstream.Script
    private let received: NIOLockedValueBox<Int>
    private let heads: NIOLockedValueBox<Int>
    private var head = ""
    private var headDone = false
    private var remaining = 0
    private var answered = false

    init(script: ScriptedUpstream.Script, received: NIOLockedValueBox<Int>, heads: NIOLockedValueBox<Int>) {
        self.script = script
        self.received = received
        self.heads = heads
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if case .raw(let response) = script {
            // Every request head (kept-alive connections send several) gets the same bytes.
            head += buffer.readString(length: buffer.readableBytes) ?? ""
            while let end = head.range(of: "\r\n\r\n") {
                head = String(head[end.upperBound...])
                heads.withLockedValue { $0 += 1 }
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response)), promise: nil)
            }
            return
        }
        if headDone {
            if case .upgradeEcho = script {
                let text = String(buffer: buffer).uppercased()
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)), promise: nil)
            } else {
                let total = received.withLockedValue { count -> Int in
                    count += buffer.readableBytes
                    return count
                }
                if case .sink(let expected) = script, total >= expected, !answered {
                    answered = true
                    context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")),
                                          promise: nil)
                }
            }
            return
        }
        head += buffer.readString(length: buffer.readableBytes) ?? ""
        guard let end = head.range(of: "\r\n\r\n") else { return }
        headDone = true
        heads.withLockedValue { $0 += 1 }
        let rest = head[end.upperBound...]
        received.withLockedValue { $0 += rest.utf8.count }
        start(context)
    }

    private func start(_ context: ChannelHandlerContext) {
        switch script {
        case .upgradeEcho(let greeting):
            let response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" + greeting
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response)), promise: nil)
        case .events(let events, let gap):
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: head)), promise: nil)
            sendEvents(events[...], gap: gap, context: context)
        case .sink:
            break
        case .raw:
            break
        case .largeBody(let bytes):
            remaining = bytes
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: \(bytes)\r\n\r\n"
            context.write(wrapOutboundOut(ByteBuffer(string: head)), promise: nil)
            sendMore(context)
        }
    }

    private func sendEvents(_ events: ArraySlice<String>, gap: TimeAmount, context: ChannelHandlerContext) {
        guard let event = events.first else {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "0\r\n\r\n")), promise: nil)
            return
        }
        let chunk = String(event.utf8.count, radix: 16) + "\r\n" + event + "\r\n"
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: chunk)), promise: nil)
        let rest = events.dropFirst()
        context.eventLoop.assumeIsolated().scheduleTask(in: gap) { [self] in
            self.sendEvents(rest, gap: gap, context: context)
        }
    }

    /// Writes 64 KiB pieces while the channel is writable.
    private func sendMore(_ context: ChannelHandlerContext) {
        let piece = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 * 1024)
        while remaining > 0 && context.channel.isWritable {
            let size = min(remaining, piece.readableBytes)
            remaining -= size
            context.write(wrapOutboundOut(piece.getSlice(at: 0, length: size) ?? piece), promise: nil)
        }
        context.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && remaining > 0 { sendMore(context) }
        context.fireChannelWritabilityChanged()
    }
}
