import Logging
import NIOCore
import NIOHTTP1
import PortalCore

/// Proxies the requests of one client connection to the upstreams, one exchange at a time
/// (the HTTP/1.1 pipeline handler in front of it queues pipelined requests).
///
/// Bodies stream in both directions with backpressure: client reads stop while the upstream
/// cannot take more, and upstream reads stop while the client cannot. Everything runs on the
/// connection's event loop, which the upstream connection shares.
final class ProxyHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let settings: ProxySettings
    private let pool: UpstreamPool
    private let accessLog: AccessLog?
    private let logger: Logger
    private let forwarded: ForwardedRequest

    private var context: ChannelHandlerContext?
    private var exchange: Exchange?
    private var requestsOnConnection = 0
    private var idleTimer: Scheduled<Void>?
    private var readsPaused = false
    private var pendingRead = false
    private var closing = false

    init(settings: ProxySettings, pool: UpstreamPool, accessLog: AccessLog?, logger: Logger, localPort: Int?) {
        self.settings = settings
        self.pool = pool
        self.accessLog = accessLog
        self.logger = logger
        self.forwarded = ForwardedRequest(scheme: settings.scheme, localPort: localPort)
    }

    // MARK: Client side

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { armIdleTimer(settings.requestHeaderTimeout) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        armIdleTimer(settings.requestHeaderTimeout)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        if let exchange {
            exchange.cancelTimer()
            exchange.upstream?.close()
            exchange.upstream = nil
            self.exchange = nil
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            startExchange(head, context: context)
        case .body(let buffer):
            guard let exchange, !exchange.answeredLocally else { return }
            if let upstream = exchange.upstream {
                upstream.write(.body(.byteBuffer(buffer)))
                exchange.streamedBody = true
                exchange.upstreamNeedsFlush = true
                if !upstream.channel.isWritable { pauseReads() }
            } else {
                exchange.bufferedBody.append(buffer)
                exchange.bufferedBytes += buffer.readableBytes
                if exchange.bufferedBytes > settings.maxBufferedRequestBytes { pauseReads() }
            }
        case .end(let trailers):
            guard let exchange else { return }
            exchange.requestEnded = true
            if exchange.answeredLocally { return }
            if let upstream = exchange.upstream {
                upstream.write(.end(trailers))
                upstream.flush()
                exchange.upstreamNeedsFlush = false
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if let exchange, exchange.upstreamNeedsFlush, let upstream = exchange.upstream {
            exchange.upstreamNeedsFlush = false
            upstream.flush()
        }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let upstream = exchange?.upstream {
            upstream.setAutoRead(true)
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if readsPaused {
            pendingRead = true
        } else {
            context.read()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("client connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Exchange

    private func startExchange(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        requestsOnConnection += 1
        let clientAddress = context.channel.remoteAddress?.ipAddress
        let exchange = Exchange(
            head: head,
            upstreamHead: forwarded.upstreamHead(for: head, clientAddress: clientAddress),
            clientAddress: clientAddress ?? "-",
            keepAlive: head.isKeepAlive && requestsOnConnection < settings.maxKeepAliveRequests
        )
        self.exchange = exchange
        if head.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" }) {
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))),
                                  promise: nil)
        }
        connectUpstream(exchange, allowIdle: true)
    }

    private func connectUpstream(_ exchange: Exchange, allowIdle: Bool) {
        guard let address = pool.nextAddress(from: settings.upstreams) else {
            answerLocally(exchange, status: .badGateway, reason: "no upstream configured")
            return
        }
        exchange.attempts += 1
        exchange.upstreamAddress = address
        pool.acquire(address, allowIdle: allowIdle) { [weak self] result in
            guard let self, self.exchange === exchange, !exchange.answeredLocally else {
                if case .success(let connection) = result { connection.close() }
                return
            }
            switch result {
            case .success(let connection):
                self.attach(connection, to: exchange)
            case .failure(let error):
                self.logger.error("upstream unreachable", metadata: [
                    "upstream": "\(address)", "error": "\(error)", "uri": "\(exchange.head.uri)",
                ])
                self.answerLocally(exchange, status: .badGateway, reason: "connect failed")
            }
        }
    }

    private func attach(_ connection: UpstreamConnection, to exchange: Exchange) {
        exchange.upstream = connection
        exchange.wasReused = connection.isReused
        connection.handler.owner = self
        connection.write(.head(exchange.upstreamHead))
        for buffer in exchange.bufferedBody {
            connection.write(.body(.byteBuffer(buffer)))
        }
        if exchange.requestEnded {
            connection.write(.end(nil))
        } else {
            exchange.streamedBody = exchange.streamedBody || !exchange.bufferedBody.isEmpty
            exchange.bufferedBody.removeAll()
            exchange.bufferedBytes = 0
        }
        connection.flush()
        exchange.touch()
        armProxyTimer(exchange)
        if !exchange.requestEnded {
            if connection.channel.isWritable { resumeReads() } else { pauseReads() }
        }
    }

    private func armProxyTimer(_ exchange: Exchange) {
        guard let context else { return }
        let timeout = settings.proxyTimeout
        exchange.cancelTimer()
        exchange.timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            guard let self, self.exchange === exchange, !exchange.responseEnded else { return }
            let idleFor = NIODeadline.now() - exchange.lastUpstreamActivity
            if idleFor < timeout {
                self.armProxyTimer(exchange)
                return
            }
            self.logger.error("upstream timed out", metadata: [
                "upstream": "\(exchange.upstreamAddress.map(String.init(describing:)) ?? "-")",
                "uri": "\(exchange.head.uri)", "timeout_seconds": "\(timeout.nanoseconds / 1_000_000_000)",
            ])
            let upstream = exchange.upstream
            exchange.upstream = nil
            upstream?.close()
            if exchange.responseStarted {
                self.context?.close(promise: nil)
            } else {
                self.answerLocally(exchange, status: .gatewayTimeout, reason: "timeout")
            }
        }
    }

    // MARK: Upstream side

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        guard let exchange, let context else { return }
        exchange.touch()
        switch part {
        case .head(let head):
            if head.status.code < 200 && head.status != .switchingProtocols {
                exchange.skippingInformational = true
                return
            }
            exchange.skippingInformational = false
            exchange.responseStarted = true
            exchange.status = head.status.code
            exchange.upstreamKeepAlive = head.isKeepAlive
            var headers = head.headers
            HopByHopHeaders.strip(&headers)
            if !exchange.requestEnded {
                // The upstream answered before reading the whole body: the client connection cannot be reused.
                exchange.keepAlive = false
            }
            if exchange.head.version.minor == 0 && exchange.keepAlive {
                if headers.contains(name: "content-length") {
                    headers.add(name: "Connection", value: "keep-alive")
                } else {
                    exchange.keepAlive = false
                }
            }
            if !exchange.keepAlive && exchange.head.version.minor >= 1 {
                headers.add(name: "Connection", value: "close")
            }
            let version = exchange.head.version.minor == 0 ? HTTPVersion.http1_0 : HTTPVersion.http1_1
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: head.status,
                                                                 headers: headers))),
                          promise: nil)
        case .body(let buffer):
            guard !exchange.skippingInformational else { return }
            exchange.bytesSent += buffer.readableBytes
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            if !context.channel.isWritable {
                exchange.upstream?.setAutoRead(false)
            }
        case .end(let trailers):
            if exchange.skippingInformational {
                exchange.skippingInformational = false
                return
            }
            exchange.responseEnded = true
            exchange.cancelTimer()
            if let upstream = exchange.upstream {
                exchange.upstream = nil
                if exchange.upstreamKeepAlive && exchange.requestEnded {
                    upstream.completedRequests += 1
                    pool.release(upstream)
                } else {
                    upstream.close()
                }
            }
            finishExchange(exchange, trailers: trailers)
        }
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable { resumeReads() }
    }

    func upstreamClosed(error: (any Error)?) {
        guard let exchange, let upstream = exchange.upstream else { return }
        exchange.upstream = nil
        exchange.cancelTimer()
        upstream.close()
        if exchange.responseStarted {
            logger.error("upstream closed in the middle of a response", metadata: [
                "upstream": "\(upstream.address)", "uri": "\(exchange.head.uri)",
            ])
            context?.close(promise: nil)
            return
        }
        // A pooled connection the upstream had already closed: try once more on a new connection
        // when nothing of the request body has been lost.
        if exchange.wasReused, exchange.attempts < 2, exchange.bodyReplayable {
            connectUpstream(exchange, allowIdle: false)
            return
        }
        logger.error("upstream closed the connection before responding", metadata: [
            "upstream": "\(upstream.address)", "uri": "\(exchange.head.uri)",
            "error": "\(error.map { "\($0)" } ?? "closed")",
        ])
        answerLocally(exchange, status: .badGateway, reason: "upstream closed")
    }

    // MARK: Completion

    /// Answers the client with a small error page instead of an upstream response.
    private func answerLocally(_ exchange: Exchange, status: HTTPResponseStatus, reason: String) {
        guard let context, !exchange.responseStarted else { return }
        exchange.answeredLocally = true
        exchange.responseStarted = true
        exchange.responseEnded = true
        exchange.status = status.code
        exchange.cancelTimer()
        exchange.bufferedBody.removeAll()
        resumeReads()
        let (headers, body) = ErrorPage.response(status: status, accept: exchange.head.headers.first(name: "accept"),
                                                 allocator: context.channel.allocator)
        var responseHeaders = headers
        if !exchange.requestEnded || !exchange.keepAlive {
            exchange.keepAlive = false
            responseHeaders.add(name: "Connection", value: "close")
        }
        exchange.bytesSent = body.readableBytes
        let version = exchange.head.version.minor == 0 ? HTTPVersion.http1_0 : HTTPVersion.http1_1
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status,
                                                             headers: responseHeaders))), promise: nil)
        if exchange.head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        finishExchange(exchange, trailers: nil)
    }

    /// Ends the response; the exchange is detached first because ending it may start the next
    /// pipelined request at once.
    private func finishExchange(_ exchange: Exchange, trailers: HTTPHeaders?) {
        guard let context, self.exchange === exchange else { return }
        self.exchange = nil
        accessLog?.record(exchange.logEntry())
        if exchange.keepAlive && !closing {
            context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
            resumeReads()
            if self.exchange == nil { armIdleTimer(settings.keepAliveTimeout) }
        } else {
            closing = true
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(trailers))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }

    // MARK: Flow control and timers

    private func pauseReads() {
        readsPaused = true
    }

    private func resumeReads() {
        guard readsPaused else { return }
        readsPaused = false
        if pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    private func armIdleTimer(_ timeout: TimeAmount) {
        guard let context else { return }
        idleTimer?.cancel()
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            guard let self, self.exchange == nil else { return }
            self.context?.close(promise: nil)
        }
    }
}

extension ProxyHandler: UpstreamConnectionOwner {}
