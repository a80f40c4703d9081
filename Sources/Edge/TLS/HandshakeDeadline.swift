import NIOCore

/// Closes a TLS connection whose handshake has not finished within `timeout` (idle sockets and
/// half-sent ClientHellos must not hold connection slots).
final class HandshakeDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            channel.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancel()
    }

    /// The handshake finished.
    func cancel() {
        timer?.cancel()
        timer = nil
    }
}
