import NIOCore
import NIOHTTP2

/// Ends an HTTP/2 connection that has had no open stream for `keepalive_timeout`, as Apache's
/// `KeepAliveTimeout` does for HTTP/2 too: a GOAWAY naming the last stream served, then the
/// close. Streams in progress keep their own deadlines; a connection that never opens a stream
/// is ended the same way. On a graceful stop (`drain`) the GOAWAY goes out at once and the
/// connection closes as soon as its last stream ends.
struct HTTP2IdleTimeout: NIOHTTP2StreamDelegate {
    /// Confined to the connection's event loop, where NIO calls the delegate.
    fileprivate final class State {
        let channel: any Channel
        let timeout: TimeAmount
        var openStreams = 0
        var lastStreamID = HTTP2StreamID.rootStream
        var timer: Scheduled<Void>?
        /// A graceful stop asked the connection to end.
        var draining = false

        init(channel: any Channel, timeout: TimeAmount) {
            self.channel = channel
            self.timeout = timeout
        }

        func arm() {
            timer?.cancel()
            timer = channel.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
                self?.expire()
            }
        }

        func expire() {
            timer?.cancel()
            timer = nil
            guard openStreams == 0, channel.isActive else { return }
            let channel = self.channel
            sendGoAway().whenComplete { _ in channel.close(promise: nil) }
        }

        /// Graceful stop: tell the client now, close when the streams in progress have ended.
        func drain() {
            guard !draining, channel.isActive else { return }
            draining = true
            if openStreams == 0 {
                expire()
            } else {
                sendGoAway().whenComplete { _ in }
            }
        }

        private func sendGoAway() -> EventLoopFuture<Void> {
            channel.writeAndFlush(HTTP2Frame(streamID: .rootStream,
                                             payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil)))
        }
    }

    /// Passes a graceful stop (`ChannelShouldQuiesceEvent`, which NIO's HTTP/2 handler hands
    /// only to the streams) on to the connection's countdown. Goes after the HTTP/2 handler.
    final class DrainObserver: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = NIOAny
        private let state: NIOLoopBound<State>

        fileprivate init(state: NIOLoopBound<State>) {
            self.state = state
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if event is ChannelShouldQuiesceEvent { state.value.drain() }
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// The handler that lets a graceful stop reach this countdown.
    func makeDrainObserver() -> DrainObserver {
        DrainObserver(state: state)
    }

    private let state: NIOLoopBound<State>

    /// Call on the channel's event loop; the countdown starts at once.
    init(channel: any Channel, timeout: TimeAmount) {
        let state = State(channel: channel, timeout: timeout)
        self.state = NIOLoopBound(state, eventLoop: channel.eventLoop)
        state.arm()
    }

    func streamCreated(_ id: HTTP2StreamID, channel: any Channel) {
        let state = self.state.value
        state.openStreams += 1
        if id > state.lastStreamID { state.lastStreamID = id }
        state.timer?.cancel()
        state.timer = nil
    }

    func streamClosed(_ id: HTTP2StreamID, channel: any Channel) {
        let state = self.state.value
        state.openStreams -= 1
        if state.openStreams <= 0 {
            state.openStreams = 0
            if state.draining {
                state.expire()
            } else {
                state.arm()
            }
        }
    }
}
