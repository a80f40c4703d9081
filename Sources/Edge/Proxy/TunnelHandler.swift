import NIOCore

/// One end of a raw byte tunnel between a client connection and an upstream connection, used
/// after a WebSocket upgrade (`101 Switching Protocols`). Both ends live on the same event loop;
/// each forwards what it reads to its peer, pausing reads while the peer cannot write, and the
/// tunnel closes when either side closes or nothing moves for `idleTimeout`.
final class TunnelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    weak var peer: TunnelHandler?
    private var context: ChannelHandlerContext?
    private let idleTimeout: TimeAmount
    private var lastActivity = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?
    private var readsPaused = false
    private var pendingRead = false

    init(idleTimeout: TimeAmount) {
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        armIdleTimer()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        touch()
        peer?.send(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        peer?.flush()
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer?.close()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        peer?.setReading(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if readsPaused {
            pendingRead = true
        } else {
            context.read()
        }
    }

    private func send(_ buffer: ByteBuffer) {
        guard let context else { return }
        touch()
        context.write(wrapOutboundOut(buffer), promise: nil)
        if !context.channel.isWritable { peer?.setReading(false) }
    }

    private func flush() {
        context?.flush()
    }

    private func close() {
        context?.close(promise: nil)
    }

    private func setReading(_ enabled: Bool) {
        readsPaused = !enabled
        if enabled, pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    private func touch() {
        lastActivity = .now()
        peer?.lastActivity = lastActivity
    }

    private func armIdleTimer() {
        guard let context else { return }
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: lastActivity + idleTimeout) { [weak self] in
            guard let self, let context = self.context else { return }
            if NIODeadline.now() - self.lastActivity >= self.idleTimeout {
                context.close(promise: nil)
            } else {
                self.armIdleTimer()
            }
        }
    }
}
