import NIOCore

/// Closes a connection after `timeout` without any data read or written (HTTP/2 connections,
/// whose streams have their own deadlines but whose connection otherwise never ends).
final class IdleCloseHandler: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny

    private let timeout: TimeAmount
    private var lastActivity = NIODeadline.now()
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) { arm(context) }
    func handlerRemoved(context: ChannelHandlerContext) { timer?.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = .now()
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        lastActivity = .now()
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext) {
        let channel = context.channel
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: lastActivity + timeout) { [weak self] in
            guard let self else { return }
            if NIODeadline.now() - self.lastActivity >= self.timeout {
                channel.close(promise: nil)
            } else {
                self.arm(context)
            }
        }
    }
}
