import NIOCore

/// Sits before the HTTP decoder and tells the proxy handler about every chunk of bytes the
/// client sends, so request-read deadlines can grow with the data received (`MinRate`).
final class ClientByteObserver: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    weak var proxy: ProxyHandler?
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Writes bytes below the HTTP handlers and closes: for an answer to a request whose head
    /// never arrived, which the HTTP state machines have no place for.
    func writeRawAndClose(_ text: String) {
        guard let context else { return }
        discarding = true
        let channel = context.channel
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: text))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    /// Set once the connection got its last answer: later bytes are not parsed.
    private var discarding = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !discarding else { return }
        proxy?.clientBytesReceived(unwrapInboundIn(data))
        guard !discarding else { return }
        context.fireChannelRead(data)
    }
}
