import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP relay on 127.0.0.1 in front of a server (a database), so a test can cut the server
/// off (every relayed connection reset, new ones refused) and bring it back on the same port,
/// as a restart or a network failure would, without touching the shared server.
public final class TCPForwarder: Sendable {
    public let port: Int
    private let target: (host: String, port: Int)
    private let listener: NIOLockedValueBox<(any Channel)?>
    private let open: NIOLockedValueBox<[any Channel]>

    public static func start(to host: String, port: Int) async throws -> TCPForwarder {
        let open = NIOLockedValueBox<[any Channel]>([])
        let channel = try await bind(target: (host, port), open: open, port: 0)
        return TCPForwarder(target: (host, port), port: channel.localAddress?.port ?? 0,
                            listener: NIOLockedValueBox(channel), open: open)
    }

    private init(target: (host: String, port: Int), port: Int, listener: NIOLockedValueBox<(any Channel)?>,
                 open: NIOLockedValueBox<[any Channel]>) {
        self.target = target
        self.port = port
        self.listener = listener
        self.open = open
    }

    /// Closes the listener and every relayed connection: the server looks gone.
    public func cut() async {
        let listening = listener.withLockedValue { channel -> (any Channel)? in
            defer { channel = nil }
            return channel
        }
        try? await listening?.close()
        let connections = open.withLockedValue { channels -> [any Channel] in
            defer { channels = [] }
            return channels
        }
        for connection in connections { try? await connection.close() }
    }

    /// Listens again on the same port.
    public func restore() async throws {
        let channel = try await Self.bind(target: target, open: open, port: port)
        listener.withLockedValue { $0 = channel }
    }

    public func stop() async {
        await cut()
    }

    private static func bind(target: (host: String, port: Int), open: NIOLockedValueBox<[any Channel]>,
                             port: Int) async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.autoRead, value: false)
            .childChannelInitializer { inbound in
                open.withLockedValue { $0.append(inbound) }
                return ClientBootstrap(group: inbound.eventLoop)
                    .channelOption(ChannelOptions.autoRead, value: false)
                    .connect(host: target.host, port: target.port)
                    .flatMapThrowing { outbound in
                        // Both channels live on the inbound connection's event loop. Each relay starts
                        // reading once its channel is active (the inbound one is registered later).
                        open.withLockedValue { $0.append(outbound) }
                        try outbound.pipeline.syncOperations.addHandler(Relay(peer: inbound))
                        try inbound.pipeline.syncOperations.addHandler(Relay(peer: outbound))
                    }
            }
            .bind(host: "127.0.0.1", port: port).get()
    }
}

/// Copies bytes to the peer channel and closes it when this side closes.
private final class Relay: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let peer: any Channel

    init(peer: any Channel) {
        self.peer = peer
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { context.read() }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        peer.writeAndFlush(unwrapInboundIn(data), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.read()
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
