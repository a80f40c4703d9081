import Foundation
import NIOConcurrencyHelpers
public import NIOCore
import NIOPosix

/// Sends raw bytes over TCP and collects every byte that comes back until the server closes
/// the connection or `timeout` passes: for tests where a client library would hide the bytes.
public enum RawSocketClient {
    public struct Result: Sendable {
        public let response: String
        /// True when the server closed the connection (rather than the timeout ending the wait).
        public let closedByServer: Bool

        /// Status codes of every response in the bytes, in order.
        public var statuses: [Int] {
            // Status lines can follow a body directly, so look for them anywhere.
            response.components(separatedBy: "HTTP/1.").dropFirst().compactMap { rest in
                let parts = rest.split(separator: " ", maxSplits: 2)
                guard parts.count >= 2, parts[0].count == 1, parts[1].count == 3 else { return nil }
                return Int(parts[1])
            }
        }
    }

    /// Sends `chunks` one after another, `gap` apart, then waits.
    public static func exchange(port: Int, host: String = "127.0.0.1", chunks: [String], gap: TimeAmount = .zero,
                                timeout: TimeAmount = .seconds(5), from source: String? = nil,
                                until done: (@Sendable (String) -> Bool)? = nil) async throws -> Result {
        let collector = ByteCollector()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        if let source {
            // Another loopback address (127.0.0.x) as the client's, to test address rules.
            bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: source, port: 0))
        }
        let channel = try await bootstrap
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
            .connect(host: host, port: port).get()
        for (index, chunk) in chunks.enumerated() {
            if index > 0 && gap != .zero { try await Task.sleep(nanoseconds: UInt64(gap.nanoseconds)) }
            guard channel.isActive else { break }
            try? await channel.writeAndFlush(ByteBuffer(string: chunk))
        }
        let closed = await collector.waitForClose(timeout: timeout, until: done)
        try? await channel.close()
        return Result(response: collector.text, closedByServer: closed)
    }

    /// Sends `request` and counts the bytes of the answer without keeping them.
    public static func countingExchange(port: Int, host: String = "127.0.0.1", request: String,
                                        timeout: TimeAmount) async throws -> (bytes: Int, closedByServer: Bool) {
        let counter = ByteCounter()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(counter) }
            }
            .connect(host: host, port: port).get()
        try await channel.writeAndFlush(ByteBuffer(string: request))
        let deadline = NIODeadline.now() + timeout
        while NIODeadline.now() < deadline && !counter.isClosed {
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        try? await channel.close()
        return (counter.count, counter.isClosed)
    }

    /// Opens a connection and keeps it open, returning the channel (for connection-limit tests).
    public static func open(port: Int, host: String = "127.0.0.1") async throws -> (any Channel, ByteCollector) {
        let collector = ByteCollector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
            .connect(host: host, port: port).get()
        return (channel, collector)
    }
}

/// Collects what a raw connection receives.
public final class ByteCollector: ChannelInboundHandler, Sendable {
    public typealias InboundIn = ByteBuffer

    private let state = NIOLockedValueBox((bytes: [UInt8](), closed: false))

    public var text: String { state.withLockedValue { String(decoding: $0.bytes, as: UTF8.self) } }
    public var isClosed: Bool { state.withLockedValue { $0.closed } }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        state.withLockedValue { $0.bytes += buffer.readableBytesView }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        state.withLockedValue { $0.closed = true }
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Waits until the connection closes, or until `done` holds for what arrived (a tunnel that
    /// stays open); returns whether it closed.
    public func waitForClose(timeout: TimeAmount, until done: ((String) -> Bool)? = nil) async -> Bool {
        let deadline = NIODeadline.now() + timeout
        while NIODeadline.now() < deadline {
            if isClosed { return true }
            if let done, done(text) { return false }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        return isClosed
    }
}

/// Counts what a raw connection receives.
public final class ByteCounter: ChannelInboundHandler, Sendable {
    public typealias InboundIn = ByteBuffer

    private let state = NIOLockedValueBox((count: 0, closed: false))

    public init() {}

    public var count: Int { state.withLockedValue { $0.count } }
    public var isClosed: Bool { state.withLockedValue { $0.closed } }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let size = unwrapInboundIn(data).readableBytes
        state.withLockedValue { $0.count += size }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        state.withLockedValue { $0.closed = true }
        context.fireChannelInactive()
    }
}
