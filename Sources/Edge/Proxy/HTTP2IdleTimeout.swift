import NIOCore
import NIOHTTP2

/// Ends an HTTP/2 connection that has had no open stream for `keepalive_timeout`, as Apache's
/// `KeepAliveTimeout` does for HTTP/2 too: a GOAWAY naming the last stream served, then the
/// close. Streams in progress keep their own deadlines; a connection that never opens a stream
/// is ended the same way.
struct HTTP2IdleTimeout: NIOHTTP2StreamDelegate {
    /// Confined to the connection's event loop, where NIO calls the delegate.
    private final class State {
        let channel: any Channel
        let timeout: TimeAmount
        var openStreams = 0
        var lastStreamID = HTTP2StreamID.rootStream
        var timer: Scheduled<Void>?

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

        private func expire() {
            timer = nil
            guard openStreams == 0, channel.isActive else { return }
            let goAway = HTTP2Frame(streamID: .rootStream,
                                    payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil))
            let channel = self.channel
            channel.writeAndFlush(goAway).whenComplete { _ in channel.close(promise: nil) }
        }
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
            state.arm()
        }
    }
}
