import NIOCore

/// Ends a connection whose client may still be sending (a refused upload, a malformed request)
/// the way Apache's and nginx's lingering close do: once the last response is written, the
/// edge's side of the connection is shut, and whatever the client still sends is read and
/// dropped until it stops or closes. Closing at once instead would leave those bytes unread,
/// and the kernel would answer them with a reset that can destroy the response in flight (the
/// client sees "connection reset" instead of the `413`).
///
/// Placed first in the pipeline, so the bytes never reach TLS or the HTTP decoder again.
final class LingeringClose: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny

    /// Longest wait for the client's next bytes (nginx's `lingering_timeout`).
    static let quietLimit = TimeAmount.seconds(5)
    /// Longest the connection lingers in all (nginx's `lingering_time`).
    static let totalLimit = TimeAmount.seconds(30)

    private var quietTimer: Scheduled<Void>?
    private var totalTimer: Scheduled<Void>?
    private let quietLimit: TimeAmount
    private let totalLimit: TimeAmount

    init(quietLimit: TimeAmount = LingeringClose.quietLimit, totalLimit: TimeAmount = LingeringClose.totalLimit) {
        self.quietLimit = quietLimit
        self.totalLimit = totalLimit
    }

    /// Shuts the write side of `channel` and lingers; closes at once when that cannot be done.
    /// Runs on the channel's event loop.
    static func start(on channel: any Channel, quietLimit: TimeAmount = LingeringClose.quietLimit,
                      totalLimit: TimeAmount = LingeringClose.totalLimit) {
        channel.eventLoop.assertInEventLoop()
        guard channel.isActive else { return }
        do {
            try channel.pipeline.syncOperations.addHandler(LingeringClose(quietLimit: quietLimit, totalLimit: totalLimit),
                                                           position: .first)
        } catch {
            channel.close(promise: nil)
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loop = context.eventLoop.assumeIsolated()
        let channel = context.channel
        totalTimer = loop.scheduleTask(in: totalLimit) { channel.close(promise: nil) }
        armQuietTimer(context)
        // Through the whole pipeline, so TLS sends its close_notify before the socket is shut.
        let shut = channel.eventLoop.makePromise(of: Void.self)
        channel.close(mode: .output, promise: shut)
        shut.futureResult.whenFailure { _ in channel.close(promise: nil) }
        context.read()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        quietTimer?.cancel()
        totalTimer?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Dropped: the connection has answered its last request.
        armQuietTimer(context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Reads continue whatever the handlers behind this one decided about flow control.
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            // The client has finished sending: nothing is left to drain.
            context.close(promise: nil)
            return
        }
        if event is ChannelShouldQuiesceEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        quietTimer?.cancel()
        totalTimer?.cancel()
        context.fireChannelInactive()
    }

    private func armQuietTimer(_ context: ChannelHandlerContext) {
        quietTimer?.cancel()
        let channel = context.channel
        quietTimer = context.eventLoop.assumeIsolated().scheduleTask(in: quietLimit) { channel.close(promise: nil) }
    }
}
