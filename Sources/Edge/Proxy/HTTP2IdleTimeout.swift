import Logging
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
        /// When the last open stream ended; nil while streams are open.
        var idleSince: NIODeadline? = .now()
        var timer: Scheduled<Void>?
        /// A graceful stop asked the connection to end.
        var draining = false
        /// Time for the client to read the GOAWAY before the connection closes.
        static let closeGrace = TimeAmount.seconds(1)

        init(channel: any Channel, timeout: TimeAmount) {
            self.channel = channel
            self.timeout = timeout
        }

        /// Starts the countdown unless one is pending. A pending timer is not cancelled when
        /// streams open; when it fires it looks at the connection and sleeps again for the rest,
        /// so a busy connection does not schedule and cancel a timer per stream.
        func armIfNeeded(in delay: TimeAmount) {
            guard timer == nil else { return }
            timer = channel.eventLoop.assumeIsolated().scheduleTask(in: delay) { [weak self] in
                self?.timerFired()
            }
        }

        private func timerFired() {
            timer = nil
            guard openStreams == 0, let idleSince, channel.isActive else { return }
            let idleFor = NIODeadline.now() - idleSince
            if idleFor < timeout {
                armIfNeeded(in: timeout - idleFor)
            } else {
                end()
            }
        }

        /// GOAWAY naming the last stream served, then the close after a moment.
        func end() {
            timer?.cancel()
            timer = nil
            guard openStreams == 0, channel.isActive else { return }
            let channel = self.channel
            sendGoAway().whenComplete { _ in
                channel.eventLoop.assumeIsolated().scheduleTask(in: Self.closeGrace) { channel.close(promise: nil) }
            }
        }

        /// Graceful stop: tell the client now, close when the streams in progress have ended.
        func drain() {
            guard !draining, channel.isActive else { return }
            draining = true
            if openStreams == 0 {
                end()
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
    /// only to the streams) on to the connection's countdown, and closes the connection after a
    /// protocol error. Goes after the HTTP/2 handler.
    ///
    /// NIO's HTTP/2 handler answers a connection error (a rapid-reset or control-frame flood, a
    /// frame it cannot parse) with GOAWAY and reports it here, but leaves the socket open: it
    /// would keep reading and answer every further frame with another GOAWAY. RFC 9113 §5.4.1
    /// says the connection must then be closed, so it is, once the GOAWAY is flushed, and the
    /// error log says why. A stream error is reported the same way, after its RST_STREAM; the
    /// errors that NIO raises only for one stream (a malformed request head, a body that
    /// disagrees with its length) leave the connection and its other streams alone, as nginx
    /// does; errors that can be either (a frame on a closed stream) still close it, so a
    /// connection NIO has given up on never stays open. Too many stream errors become a
    /// connection error of their own.
    final class DrainObserver: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = NIOAny
        private let state: NIOLoopBound<State>
        private let logger: Logger

        fileprivate init(state: NIOLoopBound<State>, logger: Logger) {
            self.state = state
            self.logger = logger
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if event is ChannelShouldQuiesceEvent { state.value.drain() }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if Self.concernsOneStream(error) {
                logger.info("HTTP/2 stream reset after a protocol error", metadata: [
                    "client": "\(context.channel.remoteAddress?.ipAddress ?? "-")", "error": "\(type(of: error))"])
                return
            }
            if error is any NIOHTTP2Error {
                logger.warning("HTTP/2 connection closed after a protocol error", metadata: [
                    "client": "\(context.channel.remoteAddress?.ipAddress ?? "-")", "error": "\(error)"])
            } else {
                // A reset, or a TLS close without close_notify: how browsers and curl often leave,
                // as on HTTP/1 (nginx logs these at info level at most, Apache not at all).
                logger.debug("client connection error", metadata: [
                    "client": "\(context.channel.remoteAddress?.ipAddress ?? "-")", "error": "\(ErrorText.describe(error))"])
            }
            context.flush()
            context.close(mode: .all, promise: nil)
        }

        static func concernsOneStream(_ error: any Error) -> Bool {
            switch error {
            case is NIOHTTP2Errors.MissingPseudoHeader, is NIOHTTP2Errors.DuplicatePseudoHeader,
                 is NIOHTTP2Errors.PseudoHeaderAfterRegularHeader, is NIOHTTP2Errors.UnknownPseudoHeader,
                 is NIOHTTP2Errors.UnsupportedPseudoHeader, is NIOHTTP2Errors.InvalidPseudoHeaders,
                 is NIOHTTP2Errors.MissingHostHeader, is NIOHTTP2Errors.DuplicateHostHeader,
                 is NIOHTTP2Errors.EmptyPathHeader, is NIOHTTP2Errors.InvalidStatusValue,
                 is NIOHTTP2Errors.TrailersWithoutEndStream, is NIOHTTP2Errors.ForbiddenHeaderField,
                 is NIOHTTP2Errors.InvalidPseudoHeaderValue, is NIOHTTP2Errors.ContentLengthViolated,
                 is NIOHTTP2Errors.ContentLengthHeadersMismatch, is NIOHTTP2Errors.ContentLengthHeaderNegative,
                 is NIOHTTP2Errors.ContentLengthHeaderMalformedValue:
                true
            default:
                false
            }
        }
    }

    /// The handler that lets a graceful stop reach this countdown.
    func makeDrainObserver(logger: Logger) -> DrainObserver {
        DrainObserver(state: state, logger: logger)
    }

    private let state: NIOLoopBound<State>

    /// Call on the channel's event loop; the countdown starts at once.
    init(channel: any Channel, timeout: TimeAmount) {
        let state = State(channel: channel, timeout: timeout)
        self.state = NIOLoopBound(state, eventLoop: channel.eventLoop)
        state.armIfNeeded(in: timeout)
    }

    func streamCreated(_ id: HTTP2StreamID, channel: any Channel) {
        let state = self.state.value
        state.openStreams += 1
        state.idleSince = nil
        if id > state.lastStreamID { state.lastStreamID = id }
    }

    func streamClosed(_ id: HTTP2StreamID, channel: any Channel) {
        let state = self.state.value
        state.openStreams -= 1
        if state.openStreams <= 0 {
            state.openStreams = 0
            state.idleSince = .now()
            if state.draining {
                state.end()
            } else {
                state.armIfNeeded(in: state.timeout)
            }
        }
    }
}
