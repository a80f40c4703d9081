import NIOCore
import NIOHTTP1
import PortalCore

/// Receives what an upstream connection produces while it is leased to a client exchange.
protocol UpstreamConnectionOwner: AnyObject {
    func upstreamReceived(_ part: HTTPClientResponsePart)
    func upstreamReadComplete()
    func upstreamWritabilityChanged(isWritable: Bool)
    func upstreamClosed(error: (any Error)?)
}

/// One keep-alive HTTP/1.1 connection to an upstream, confined to its event loop.
final class UpstreamConnection {
    let channel: any Channel
    let address: HostAndPort
    let handler: UpstreamHandler
    /// Requests already completed on this connection.
    var completedRequests = 0

    init(channel: any Channel, address: HostAndPort, handler: UpstreamHandler) {
        self.channel = channel
        self.address = address
        self.handler = handler
    }

    var isReused: Bool { completedRequests > 0 }

    func write(_ part: HTTPClientRequestPart) {
        channel.write(part, promise: nil)
    }

    func flush() {
        channel.flush()
    }

    /// Whether the channel reads by itself (NIO's default); changed only through `setAutoRead`.
    private var autoRead = true

    func setAutoRead(_ enabled: Bool) {
        guard enabled != autoRead else { return }
        autoRead = enabled
        try? channel.syncOptions?.setOption(ChannelOptions.autoRead, value: enabled)
        if enabled { channel.read() }
    }

    func close() {
        handler.owner = nil
        channel.close(promise: nil)
    }
}

/// The last handler of an upstream channel: hands response parts to the exchange that leased
/// the connection, and tells the pool when an idle connection goes away.
final class UpstreamHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    weak var owner: (any UpstreamConnectionOwner)?
    /// Called once when the channel closes while idle in the pool.
    var onIdleClose: (() -> Void)?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if let owner {
            owner.upstreamReceived(part)
        } else {
            // An idle connection must not send anything; it is no longer safe to reuse.
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        owner?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        owner?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let owner = self.owner
        self.owner = nil
        owner?.upstreamClosed(error: error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let owner = self.owner
        self.owner = nil
        owner?.upstreamClosed(error: nil)
        let onIdleClose = self.onIdleClose
        self.onIdleClose = nil
        onIdleClose?()
        context.fireChannelInactive()
    }
}
