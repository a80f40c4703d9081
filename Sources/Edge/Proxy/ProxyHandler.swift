import Foundation
import HummingbirdBcrypt
import Logging
import NIOCore
import NIOPosix
import NIOHTTP1
import NIOTLS
import PortalCore

/// Serves one client connection: picks the site and route of each request, answers redirects
/// and errors itself, and proxies the rest to the route's upstreams, one exchange at a time;
/// pipelined requests wait in a small queue until the one before them is answered.
///
/// Bodies stream in both directions with backpressure: client reads stop while the upstream
/// cannot take more, and upstream reads stop while the client cannot. Everything runs on the
/// connection's event loop, which the upstream connection shares.
final class ProxyHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Where the connection is in reading a request, for the read deadlines.
    private enum Phase {
        /// Between requests: nothing of the next one has arrived.
        case idle(since: NIODeadline, firstRequest: Bool)
        /// Part of a request head has arrived.
        case readingHead(since: NIODeadline, bytes: Int)
        /// The head is in; the body is arriving.
        case readingBody(since: NIODeadline, bytes: Int)
        /// The request is complete; the upstream's answer is awaited or being sent.
        case responding
    }

    private let store: EdgeRuntimeStore
    var runtime: EdgeRuntime
    private var runtimeGeneration: Int
    let listener: Listener
    private let pool: UpstreamPool
    private let baseLogger: Logger
    /// Every line about this connection names its client, as Apache's error log does; built on
    /// first use, so connections that log nothing pay nothing for it.
    lazy var logger: Logger = {
        var logger = baseLogger
        logger[metadataKey: "client"] = "\(scope.clientAddress)"
        return logger
    }()
    private var forwarded: ForwardedRequest
    /// The raw-bytes handler in front of the HTTP codec (for answers outside any request).
    weak var observer: ClientByteObserver?

    var context: ChannelHandlerContext?
    var exchange: Exchange?
    /// State shared with the other handlers of the same client connection.
    let scope: ConnectionScope
    /// The client's IP address as text, computed once per connection.
    private var clientAddress: String { scope.clientAddress }
    private var requestsOnConnection = 0
    private var phase: Phase = .idle(since: .now(), firstRequest: true)
    /// What arrived of the current request line: its length so far, whether it ended, and
    /// whether its first word could be a method (for 414 against 431, and 501 against 400).
    private var requestLine = RequestLineProgress()
    private var deadlineTimer: Scheduled<Void>?
    /// The last response's final write on a kept-alive HTTP/1.1 connection.
    private var lastResponseWrite: EventLoopFuture<Void>?
    /// Watches the upstream of the exchange in flight (`proxy_timeout`).
    private var proxyTimer: Scheduled<Void>?
    private var deadlineTimerFiresAt: NIODeadline?
    private var writeStalledSince: NIODeadline?
    private var readsPaused = false
    private var pendingRead = false
    private var closing = false
    /// The answer owed to a malformed request that arrived behind the one in flight.
    private var pipelinedRefusal: HTTPResponseStatus?
    /// Parts of pipelined requests that arrived while an earlier one was being answered.
    private var queued: [HTTPServerRequestPart] = []
    private var queuedBytes = 0
    private static let maxQueuedBytes = 256 * 1024

    let stats: EdgeStats
    let metrics: EdgeMetrics
    let connections: ConnectionRegistry
    /// Recently opened static files of this event loop.
    let fileCache: OpenFileCache
    /// This handler serves one HTTP/2 stream (no connection headers, one request).
    let http2: Bool

    init(store: EdgeRuntimeStore, listener: Listener, pool: UpstreamPool, logger: Logger, stats: EdgeStats,
         metrics: EdgeMetrics, connections: ConnectionRegistry, fileCache: OpenFileCache, scope: ConnectionScope,
         http2: Bool = false) {
        self.http2 = http2
        self.scope = scope
        self.fileCache = fileCache
        self.stats = stats
        self.metrics = metrics
        self.connections = connections
        let (generation, runtime) = store.current
        self.store = store
        self.runtime = runtime
        self.runtimeGeneration = generation
        self.listener = listener
        self.pool = pool
        self.baseLogger = logger
        self.forwarded = ForwardedRequest(scheme: listener.tls ? "https" : "http", localPort: listener.port,
                                          forwardedHeader: runtime.settings.forwardedHeader)
    }

    var settings: EdgeSettings { runtime.settings }

    // MARK: Client side

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // An HTTP/2 stream starts with its request head; the connection's idle limit covers the rest.
        if http2 {
            phase = .responding
        } else {
            phase = .idle(since: .now(), firstRequest: true)
            armDeadline()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadlineTimer?.cancel()
        proxyTimer?.cancel()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadlineTimer?.cancel()
        proxyTimer?.cancel()
        proxyTimer = nil
        if let exchange {
            stats.exchangeAborted(bytesSent: exchange.bytesSent, bytesReceived: exchange.requestBodyBytes)
            endInFlight(exchange)
            exchange.closeFile()
            exchange.dropUpstream()
            if !exchange.responseEnded { exchange.status = exchange.responseStarted ? exchange.status : 499 }
            self.exchange = nil
            // Cut off (the client left, or a graceful stop's drain timeout passed): logged with
            // what was sent, `499` when nothing was (nginx's code for it).
            recordAccess(exchange)
        }
        context.fireChannelInactive()
    }

    /// Raw bytes from the client, before decoding (see `ClientByteObserver`).
    func clientBytesReceived(_ buffer: ByteBuffer) {
        switch phase {
        case .idle:
            phase = .readingHead(since: .now(), bytes: buffer.readableBytes)
            requestLine.reset()
            requestLine.add(buffer.readableBytesView)
            armDeadline()
        case .readingHead(let since, let bytes):
            phase = .readingHead(since: since, bytes: bytes + buffer.readableBytes)
            requestLine.add(buffer.readableBytesView)
        case .readingBody(let since, let bytes):
            phase = .readingBody(since: since, bytes: bytes + buffer.readableBytes)
            return
        case .responding:
            return
        }
        if requestLine.lacksVersion, exchange == nil, !closing {
            // HTTP/0.9 (`GET /path` and a line end): the parser would wait for a version until
            // the header deadline; the answer can be given now.
            logger.info("request line without an HTTP version", metadata: [
                "client": "\(context?.channel.remoteAddress?.ipAddress ?? "-")"])
            answerBeforeHead(status: .badRequest, body: "Requisição inválida.\n")
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        // A part that belongs to a later request than the one in flight waits its turn.
        if !queued.isEmpty || (exchange?.requestEnded ?? false) {
            enqueue(part)
            return
        }
        handle(part, context: context)
    }

    private func enqueue(_ part: HTTPServerRequestPart) {
        if case .body(let buffer) = part { queuedBytes += buffer.readableBytes } else { queuedBytes += 256 }
        queued.append(part)
        if queuedBytes > Self.maxQueuedBytes { pauseReads() }
    }

    /// Hands queued pipelined parts to the handler once no exchange is in flight.
    private func drainQueue() {
        while let context, !queued.isEmpty, exchange == nil || !(exchange?.requestEnded ?? true), !closing {
            let part = queued.removeFirst()
            if case .body(let buffer) = part { queuedBytes -= buffer.readableBytes } else { queuedBytes -= 256 }
            handle(part, context: context)
        }
        if queuedBytes <= Self.maxQueuedBytes / 2 { resumeReads() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            // Graceful stop: finish the request in flight, then close.
            if exchange == nil {
                // An HTTP/2 stream ends by itself (its connection sends GOAWAY); an idle HTTP/1.1
                // connection closes once the last response has really been written, since
                // closing drops writes still queued for a slow reader.
                if !http2 {
                    closing = true
                    if let lastResponseWrite {
                        let channel = context.channel
                        lastResponseWrite.whenComplete { _ in channel.close(promise: nil) }
                    } else {
                        context.close(promise: nil)
                    }
                }
            } else {
                closing = true
                exchange?.keepAlive = false
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            startExchange(head, context: context)
        case .body(let buffer):
            guard let exchange, !exchange.answeredLocally else { return }
            if http2, case .readingBody(let since, let bytes) = phase {
                // HTTP/2 streams have no byte observer: count the body here for the MinRate deadline.
                phase = .readingBody(since: since, bytes: bytes + buffer.readableBytes)
            }
            exchange.requestBodyBytes += buffer.readableBytes
            if exchange.requestBodyBytes > exchange.maxBodyBytes {
                bodyTooLarge(exchange)
                return
            }
            if buffer.readableBytes > 0, exchange.facts?.framing == ForwardedRequest.BodyFraming.none {
                // Only an HTTP/2 stream gets here (HTTP/1's parser reads no body without a
                // length): DATA after a GET-like head that named no length. Forwarding it would
                // put bytes after a head that announced no body, which the upstream would read
                // as a request of its own.
                unframedBody(exchange)
                return
            }
            if let upstream = exchange.upstream {
                upstream.write(.body(.byteBuffer(buffer)))
                // An upload in progress is not a silent upstream: proxy_timeout counts from the
                // last byte handed on (an upstream that stops reading stops the uploads too).
                exchange.touch()
                exchange.streamedBody = true
                exchange.upstreamNeedsFlush = true
                if !upstream.channel.isWritable { pauseReads() }
            } else {
                exchange.bufferedBody.append(buffer)
                exchange.bufferedBytes += buffer.readableBytes
                if exchange.bufferedBytes > 64 * 1024 { pauseReads() }
            }
        case .end:
            // A request's trailers are not passed on (nginx drops them too): they could carry
            // fields the edge sets itself (X-Forwarded-For, X-Real-IP, Forwarded), which an
            // upstream that merges trailers into the header would believe.
            guard let exchange else { return }
            exchange.requestEnded = true
            phase = .responding
            if exchange.facts?.asksUpgrade == true && !http2 {
                // Nothing after an upgrade request is parsed; do not let it pile up.
                pauseReads()
            }
            if exchange.answeredLocally { return }
            if let upstream = exchange.upstream {
                upstream.write(.end(nil))
                upstream.flush()
                exchange.upstreamNeedsFlush = false
                exchange.upstreamSentAt = .now()
                exchange.touch()
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
        if context.channel.isWritable {
            writeStalledSince = nil
            // The upstream was held back while the client did not read: its silence counts
            // from now.
            exchange?.touch()
            exchange?.upstream?.setAutoRead(true)
        } else if writeStalledSince == nil {
            writeStalledSince = .now()
            armDeadline()
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
        if let parserError = error as? HTTPParserError, exchange == nil,
           closing || parserError == .invalidEOFState {
            // The connection is ending after its last answer, or the client left in the middle of
            // a request: there is nobody to answer and no request to log.
            logger.debug("client connection ended mid-request", metadata: ["error": "\(parserError)"])
            context.close(promise: nil)
            return
        }
        if let parserError = error as? HTTPParserError {
            let status: HTTPResponseStatus
            switch parserError {
            case .headerOverflow:
                status = requestLine.length > settings.maxRequestLineBytes ? .uriTooLong : .requestHeaderFieldsTooLarge
            case .invalidMethod where requestLine.methodIsToken:
                // A well-formed method the parser does not know (RFC 9110 §9.1): not implemented.
                status = .notImplemented
            case .invalidVersion where requestLine.asksForNewerMajorVersion:
                // `HTTP/2.0` or `HTTP/3.0` in an HTTP/1 request line (RFC 9110 §15.6.6).
                status = .httpVersionNotSupported
            default: status = .badRequest
            }
            logger.info("bad request from client", metadata: [
                "client": "\(context.channel.remoteAddress?.ipAddress ?? "-")", "error": "\(parserError)",
                "status": "\(status.code)"])
            if let exchange, exchange.requestEnded, !exchange.responseEnded {
                // The bad bytes belong to a later, pipelined request: answer the one in flight,
                // then the bad one, and close (as Apache does).
                closing = true
                queued.removeAll()
                // The request-line facts above describe the request in flight, not this one.
                pipelinedRefusal = status == .notImplemented ? .badRequest : status
                return
            }
            if let exchange {
                if exchange.responseStarted {
                    context.close(promise: nil)
                } else {
                    exchange.dropUpstream()
                    respondLocally(exchange, status: status, close: true)
                }
            } else {
                // Logged as it arrived, as Apache logs `%r`: not as a request nobody sent.
                refuseUnparsedRequest(status: status, rawLine: requestLine.text)
            }
            return
        }
        // Failed handshakes are counted before this handler exists (HandshakeFailureCounter).
        logger.debug("client connection error", metadata: ["error": "\(ErrorText.describe(error))"])
        context.close(promise: nil)
    }

    /// Answers a request the parser refused before it had a head, and closes.
    private func refuseUnparsedRequest(status: HTTPResponseStatus, rawLine: String) {
        let bare = Exchange(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "-"),
                            clientAddress: clientAddress, keepAlive: false)
        bare.rawRequestLine = rawLine
        exchange = bare
        respondLocally(bare, status: status, close: true, logAsMalformed: true)
    }

    // MARK: Exchange

    private func startExchange(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        requestsOnConnection += 1
        if store.generation != runtimeGeneration {
            (runtimeGeneration, runtime) = store.current
            forwarded.forwardedHeader = runtime.settings.forwardedHeader
        }
        // The loop's pool follows a reload's limits from the first request that sees it.
        if pool.settingsGeneration < runtimeGeneration {
            pool.adopt(UpstreamPoolSettings(runtime.settings), generation: runtimeGeneration)
        }
        // An HTTP/2 stream carries one exchange; "keep-alive" there means ending the stream
        // normally rather than resetting it (NIO reports version 2 heads as not keep-alive).
        let exchange = Exchange(head: head, clientAddress: clientAddress,
                                keepAlive: http2 || (head.isKeepAlive && requestsOnConnection < settings.maxKeepAliveRequests))
        self.exchange = exchange
        exchange.inFlight = true
        scope.exchangeBegan(stats)
        let facts: RequestFacts
        switch RequestValidator.validate(head, settings: settings) {
        case .accept(let accepted):
            facts = accepted
        case .reject(let status, let reason):
            phase = .responding
            logger.info("request refused", metadata: ["client": "\(clientAddress)", "reason": "\(reason)",
                                                      "status": "\(status.code)"])
            var headers = HTTPHeaders()
            // A 405 names what is allowed (RFC 9110 §15.5.6): everything the upstream may serve
            // but TRACE and CONNECT; the list is the common methods, not a promise of the app's.
            if status == .methodNotAllowed { headers.add(name: "Allow", value: "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS") }
            respondLocally(exchange, status: status, extraHeaders: headers, close: true)
            return
        }
        exchange.facts = facts
        if facts.asksUpgrade && !http2 {
            // The parser stops after a request that asks to switch protocols: unless a WebSocket
            // tunnel follows, the connection ends with this exchange.
            exchange.keepAlive = false
        }
        phase = facts.hasBody ? .readingBody(since: .now(), bytes: 0) : .responding
        if facts.hasBody { armDeadline() }

        if head.method == .OPTIONS && head.uri == "*" {
            var headers = HTTPHeaders()
            headers.add(name: "Allow", value: "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
            respondLocally(exchange, status: .ok, extraHeaders: headers, body: nil, close: false)
            return
        }
        let host = facts.host
        guard let site = runtime.router.site(for: host) else {
            let status: HTTPResponseStatus = settings.unknownHostStatus == 404 ? .notFound : .misdirectedRequest
            respondLocally(exchange, status: status, close: false)
            return
        }
        exchange.site = site
        if listener.tls, host != nil, let serverName = scope.serverName,
           (runtime.router.tlsSite(for: serverName)?.tlsContext ?? runtime.fallbackTLSContext)
            !== (site.tlsContext ?? runtime.fallbackTLSContext) {
            // The connection was set up with another site's certificate (Apache answers the same).
            respondLocally(exchange, status: .misdirectedRequest, close: false)
            return
        }
        if !listener.tls && site.redirectToHTTPS {
            redirect(exchange, to: "https", host: site.canonicalHost ?? host ?? site.primaryHost,
                     port: runtime.redirectHTTPSPort)
            return
        }
        if let canonical = site.canonicalHost, let host, host != canonical {
            // The port the client used, as its Host says (none: the scheme's default, which a
            // port forward in front of the edge may map to another listener port).
            let hostPort = exchange.head.headers.first(name: "host").flatMap(HostHeader.port)
            redirect(exchange, to: forwarded.scheme, host: canonical, port: hostPort ?? (listener.tls ? 443 : 80))
            return
        }
        switch RequestTarget.normalize(head.uri, allowEncodedSlashes: site.allowEncodedSlashes) {
        case .unchanged:
            break
        case .normalized(let target):
            exchange.target = target
        case .refused(let status, let reason):
            logger.info("request target refused", metadata: ["client": "\(clientAddress)", "reason": "\(reason)",
                                                            "status": "\(status.code)"])
            respondLocally(exchange, status: status, close: status == .badRequest || facts.hasBody)
            return
        }
        guard let route = site.route(for: exchange.target) else {
            respondLocally(exchange, status: .notFound, close: false)
            return
        }
        exchange.route = route
        exchange.maxBodyBytes = route.maxBodyBytes
        guard let access = route.access else {
            continueRoute(exchange, route: route, facts: facts, context: context)
            return
        }
        let authorization = exchange.head.headers.first(name: "authorization")
        if access.requiresPassword { exchange.user = AccessPolicy.basicUser(authorization) }
        applyAccess(access, authorization: authorization, exchange: exchange, route: route, facts: facts, context: context)
    }

    /// Carries out the access rules' decision: on to the route, 403, 401, or a trip to the thread
    /// pool first (bcrypt, or a look at a changed htpasswd file before deciding).
    private func applyAccess(_ access: AccessPolicy, authorization: String?, exchange: Exchange, route: Route,
                             facts: RequestFacts, context: ChannelHandlerContext, mayRefresh: Bool = true) {
        switch access.check(client: clientAddress, server: context.channel.localAddress?.ipAddress,
                            authorization: authorization, mayRefresh: mayRefresh) {
        case .refreshFirst:
            NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) {
                access.refresh()
            }.assumeIsolated().whenComplete { [weak self] _ in
                guard let self, self.exchange === exchange, let context = self.context else { return }
                self.applyAccess(access, authorization: authorization, exchange: exchange, route: route, facts: facts,
                                 context: context, mayRefresh: false)
            }
        case .allow:
            continueRoute(exchange, route: route, facts: facts, context: context)
        case .forbidden:
            respondLocally(exchange, status: .forbidden, close: facts.hasBody)
        case .unauthorized:
            var headers = HTTPHeaders()
            headers.add(name: "WWW-Authenticate", value: access.challenge)
            respondLocally(exchange, status: .unauthorized, extraHeaders: headers, close: facts.hasBody)
        case .verify(let password, let hash, let cacheKey):
            // bcrypt takes a while on purpose: never on the event loop.
            NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) {
                Bcrypt.verify(password, hash: hash)
            }.assumeIsolated().whenComplete { [weak self] result in
                guard let self, self.exchange === exchange, let context = self.context else { return }
                if case .success(true) = result {
                    access.remember(cacheKey)
                    self.continueRoute(exchange, route: route, facts: facts, context: context)
                } else {
                    var headers = HTTPHeaders()
                    headers.add(name: "WWW-Authenticate", value: access.challenge)
                    self.respondLocally(exchange, status: .unauthorized, extraHeaders: headers, close: facts.hasBody)
                }
            }
        }
    }

    /// After the access rules: the status page, files, or the upstream.
    private func continueRoute(_ exchange: Exchange, route: Route, facts: RequestFacts, context: ChannelHandlerContext) {
        if route.isStatus {
            serveStatus(exchange)
            return
        }
        if route.isMetrics {
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
            headers.add(name: "Cache-Control", value: "no-store")
            respondLocally(exchange, status: .ok, extraHeaders: headers, body: metrics.render(), close: false)
            return
        }
        if let root = route.staticRoot {
            serveStatic(exchange, root: root, route: route, facts: facts)
            return
        }
        if let length = facts.contentLength, length > route.maxBodyBytes {
            respondLocally(exchange, status: .payloadTooLarge, close: true)
            return
        }
        if let cache = route.cache, answerFromCache(exchange, cache: cache) { return }
        if facts.expectContinue {
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: exchange.head.version, status: .continue))),
                                  promise: nil)
        }
        connectUpstream(exchange, allowIdle: true)
    }

    /// `tried`: addresses this request could not connect to; another of the route's is tried
    /// before answering 502 (nothing of the request has reached an upstream yet).
    private func connectUpstream(_ exchange: Exchange, allowIdle: Bool, tried: [HostAndPort] = []) {
        guard let route = exchange.route, let address = route.balancer.next(excluding: tried) else {
            respondLocally(exchange, status: .badGateway, close: false)
            return
        }
        exchange.attempts += 1
        exchange.upstreamAddress = address
        exchange.upstreamAddressText = pool.text(of: address)
        exchange.upstreamHead = forwarded.upstreamHead(for: exchange.head, target: route.upstreamTarget(for: exchange.target),
                                                       clientAddress: exchange.clientAddress,
                                                       preserveHost: route.preserveHost, upstream: address,
                                                       connectionTokens: exchange.facts?.connectionTokens ?? [],
                                                       upgrade: exchange.facts?.upgrade,
                                                       framing: exchange.facts?.framing ?? .none)
        let pool = self.pool
        pool.acquire(address, allowIdle: allowIdle) { [weak self] result in
            guard let self, self.exchange === exchange, !exchange.answeredLocally else {
                // The client went away meanwhile: the connection goes back to the pool, never astray.
                if case .success(let connection) = result { pool.release(connection) }
                return
            }
            switch result {
            case .success(let connection):
                self.attach(connection, to: exchange)
            case .failure(let error):
                let timedOut = error is UpstreamPoolError
                self.stats.upstreamFailed(address.description, timeout: timedOut)
                self.metrics.upstreamFailed(address.description, timeout: timedOut)
                self.logger.error(timedOut ? "no upstream connection free in time" : "upstream unreachable",
                                  metadata: exchange.upstreamLogMetadata(["upstream": "\(address)", "error": "\(ErrorText.describe(error))"]))
                if !timedOut {
                    route.balancer.markFailed(address)
                    if tried.count + 1 < route.upstreams.count {
                        self.connectUpstream(exchange, allowIdle: allowIdle, tried: tried + [address])
                        return
                    }
                }
                self.respondLocally(exchange, status: timedOut ? .serviceUnavailable : .badGateway, close: false)
            }
        }
    }

    private func attach(_ connection: UpstreamConnection, to exchange: Exchange) {
        guard let upstreamHead = exchange.upstreamHead else { return }
        exchange.upstream = connection
        exchange.wasReused = connection.isReused
        connection.handler.owner = self
        connection.write(.head(upstreamHead))
        for buffer in exchange.bufferedBody {
            connection.write(.body(.byteBuffer(buffer)))
        }
        if exchange.requestEnded {
            connection.write(.end(nil))
            exchange.upstreamSentAt = .now()
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

    /// Makes sure the proxy timeout watches the exchange now waiting on its upstream. One timer
    /// per connection serves every exchange on it: when it fires it measures the silence of the
    /// exchange in flight and sleeps again for the rest, so a busy keep-alive connection does not
    /// schedule and cancel a timer per request.
    private func armProxyTimer(_ exchange: Exchange) {
        guard proxyTimer == nil, let context else { return }
        let timeout = TimeAmount.seconds(Int64(settings.proxyTimeoutSeconds))
        proxyTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            self?.proxyTimerFired()
        }
    }

    private func proxyTimerFired() {
        proxyTimer = nil
        guard let exchange, exchange.upstream != nil, !exchange.responseEnded, let context else { return }
        // The settings of the runtime in force now: a reload may have changed the timeout.
        let timeout = TimeAmount.seconds(Int64(settings.proxyTimeoutSeconds))
        // Waiting on the client is not the upstream's silence: a client that does not read the
        // answer (the upstream is held back meanwhile) or is still sending the body the upstream
        // stands ready to take. client_timeout and the body read deadline watch the client.
        let waitingOnClient = writeStalledSince != nil
            || (!exchange.requestEnded && exchange.upstream?.channel.isWritable == true)
        if waitingOnClient { exchange.touch() }
        let idleFor = NIODeadline.now() - exchange.lastUpstreamActivity
        if idleFor < timeout {
            proxyTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout - idleFor) { [weak self] in
                self?.proxyTimerFired()
            }
            return
        }
        if let address = exchange.upstreamAddress {
            stats.upstreamFailed(address.description, timeout: true)
            metrics.upstreamFailed(address.description, timeout: true)
        }
        logger.error("upstream timed out", metadata: exchange.upstreamLogMetadata([
            "timeout_seconds": "\(timeout.nanoseconds / 1_000_000_000)"]))
        exchange.dropUpstream()
        if exchange.responseStarted {
            context.close(promise: nil)
        } else {
            respondLocally(exchange, status: .gatewayTimeout, close: false)
        }
    }

    private func unframedBody(_ exchange: Exchange) {
        logger.info("request body without a length after a head that announced none",
                    metadata: ["uri": "\(exchange.head.uri)"])
        exchange.dropUpstream()
        if exchange.responseStarted {
            context?.close(promise: nil)
        } else {
            respondLocally(exchange, status: .badRequest, close: true)
        }
    }

    private func bodyTooLarge(_ exchange: Exchange) {
        logger.info("request body too large", metadata: ["uri": "\(exchange.head.uri)",
                                                         "limit": "\(exchange.maxBodyBytes)"])
        exchange.dropUpstream()
        if exchange.responseStarted {
            context?.close(promise: nil)
        } else {
            respondLocally(exchange, status: .payloadTooLarge, close: true)
        }
    }

    // MARK: Upstream side

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        guard let exchange, let context else { return }
        exchange.touch()
        switch part {
        case .head(let head):
            if head.status == .switchingProtocols, exchange.facts?.upgrade != nil, exchange.requestEnded {
                // The decoder still owes the `.end` of this response; the tunnel starts after it.
                exchange.upgradeHead = head
                return
            }
            if head.status.code < 100 || head.status.code > 599 {
                // Not an HTTP status (RFC 9110 §15): the upstream is broken, not slow.
                logger.error("upstream sent an invalid status",
                             metadata: exchange.upstreamLogMetadata(["status": "\(head.status.code)"]))
                exchange.dropUpstream()
                respondLocally(exchange, status: .badGateway, close: false)
                return
            }
            if !Self.hasPlainFraming(head.headers) {
                // `Transfer-Encoding: gzip, chunked`: the parser takes the chunks off, but the gzip
                // would reach the client unannounced. nginx refuses such an answer the same way.
                logger.error("upstream sent a transfer coding other than chunked",
                             metadata: exchange.upstreamLogMetadata(["transfer_encoding": "\(head.headers[canonicalForm: "transfer-encoding"].joined(separator: ", "))"]))
                exchange.dropUpstream()
                respondLocally(exchange, status: .badGateway, close: false)
                return
            }
            if head.status.code < 200 {
                exchange.skippingInformational = true
                // Interim answers a proxy did not ask for go on to the client (RFC 9110 §15.2),
                // such as 103 Early Hints; not 100 (the edge answers Expect itself), not a 101
                // nobody asked for, and never to an HTTP/1.0 client, which does not know them.
                if head.status.code != 100, head.status.code != 101, http2 || exchange.head.version.minor >= 1 {
                    var headers = HTTPHeaders()
                    for header in head.headers where !HopByHopHeaders.isHopByHop(header.name) {
                        headers.add(name: header.name, value: header.value)
                    }
                    context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: http2 ? exchange.head.version : .http1_1,
                                                                                 status: head.status, headers: headers))),
                                          promise: nil)
                }
                return
            }
            exchange.skippingInformational = false
            if head.status.code >= 500, exchange.cacheUse != nil, let stale = staleAnswer(for: exchange) {
                // The upstream failed: a stored answer stands in, and the failure's body is dropped.
                exchange.upstreamAnsweredAt = .now()
                exchange.dropUpstream()
                serveStale(stale, to: exchange)
                return
            }
            exchange.responseStarted = true
            // A stored answer replayed is not the upstream answering.
            if !exchange.answeredFromCache { exchange.upstreamAnsweredAt = .now() }
            exchange.status = head.status.code
            exchange.upstreamKeepAlive = head.isKeepAlive
            if exchange.cacheUse != nil { cacheResponseStarted(exchange, head: head) }
            var headers = responseHeaders(head.headers, status: head.status, exchange: exchange)
            if let cacheStatus = exchange.cacheStatus { headers.replaceOrAdd(name: "X-Cache", value: cacheStatus) }
            if head.status == .notModified, let etag = headers.first(name: "etag"), !etag.hasPrefix("W/"),
               exchange.head.headers[canonicalForm: "if-none-match"].contains(where: { $0.contains("W/" + etag) }) {
                // The client holds the compressed form, whose ETag the edge weakened: the 304
                // confirms that validator, not the upstream's strong one (RFC 9110 §15.4.5).
                headers.replaceOrAdd(name: "ETag", value: "W/" + etag)
            }
            if !exchange.requestEnded && (exchange.facts?.hasBody ?? true) {
                // The upstream answered before reading the whole body: the client connection cannot be reused.
                exchange.keepAlive = false
            }
            if !http2 && exchange.head.version.minor == 0 && exchange.keepAlive {
                if headers.contains(name: "content-length") {
                    headers.add(name: "Connection", value: "keep-alive")
                } else {
                    exchange.keepAlive = false
                }
            }
            let compression = CompressionDecision.decide(status: head.status, method: exchange.head.method,
                                                         headers: headers, acceptEncoding: exchange.facts?.acceptEncoding,
                                                         settings: settings)
            if compression.vary { CompressionDecision.addVary(&headers) }
            if let coding = compression.coding {
                if exchange.head.method == .HEAD {
                    // No body to compress, but the same fields a GET would get.
                    CompressionDecision.compressedHeaders(&headers, coding: coding)
                } else if let compressor = try? BodyCompressors.make(coding: coding, gzipLevel: settings.compressionLevel,
                                                                     brotliLevel: settings.brotliLevel,
                                                                     bodyLength: head.headers.first(name: "content-length").flatMap { Int($0) }) {
                    exchange.gzip = compressor
                    CompressionDecision.compressedHeaders(&headers, coding: coding)
                    if !http2 && exchange.head.version.minor == 0 { exchange.keepAlive = false }
                }
            }
            if !exchange.keepAlive && exchange.head.version.minor >= 1 && !http2 {
                headers.add(name: "Connection", value: "close")
            }
            writeHead(status: head.status, headers: headers, exchange: exchange)
        case .body(var buffer):
            guard !exchange.skippingInformational else { return }
            if exchange.cacheRecording != nil { cacheResponseBody(exchange, buffer) }
            if let gzip = exchange.gzip {
                do {
                    buffer = try gzip.compress(buffer, sync: false, allocator: context.channel.allocator)
                } catch {
                    logger.error("compression failed", metadata: ["error": "\(error)"])
                    context.close(promise: nil)
                    return
                }
                if buffer.readableBytes == 0 { return }
            }
            exchange.bytesSent += buffer.readableBytes
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            if !context.channel.isWritable {
                exchange.upstream?.setAutoRead(false)
                if writeStalledSince == nil {
                    writeStalledSince = .now()
                    armDeadline()
                }
            }
        case .end(let trailers):
            if let upgradeHead = exchange.upgradeHead {
                switchToTunnel(exchange, head: upgradeHead)
                return
            }
            if exchange.skippingInformational {
                exchange.skippingInformational = false
                return
            }
            exchange.responseEnded = true
            if exchange.upstreamAnsweredAt != nil, !exchange.answeredFromCache { exchange.upstreamEndedAt = .now() }
            if exchange.cacheRecording != nil { cacheResponseEnded(exchange) }
            if let gzip = exchange.gzip, let tail = try? gzip.finish(allocator: context.channel.allocator),
               tail.readableBytes > 0 {
                exchange.bytesSent += tail.readableBytes
                context.write(wrapOutboundOut(.body(.byteBuffer(tail))), promise: nil)
            }
            exchange.gzip = nil
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
        guard let context else { return }
        if let exchange, let gzip = exchange.gzip, gzip.hasPending, exchange.responseStarted, !exchange.responseEnded,
           let pending = try? gzip.compress(context.channel.allocator.buffer(capacity: 16), sync: true,
                                            allocator: context.channel.allocator),
           pending.readableBytes > 0 {
            exchange.bytesSent += pending.readableBytes
            context.write(wrapOutboundOut(.body(.byteBuffer(pending))), promise: nil)
        }
        context.flush()
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable { resumeReads() }
    }

    func upstreamClosed(error: (any Error)?) {
        guard let exchange, let upstream = exchange.upstream else { return }
        exchange.upstream = nil
        upstream.close()
        if exchange.responseStarted {
            let malformed = error is HTTPParserError
            logger.error(malformed ? "upstream sent a malformed response body" : "upstream closed in the middle of a response",
                         metadata: exchange.upstreamLogMetadata(["upstream": "\(upstream.address)",
                                                                 "error": "\(error.map(ErrorText.describe) ?? "closed")"]))
            if malformed {
                stats.upstreamFailed(upstream.address.description, timeout: false)
                metrics.upstreamFailed(upstream.address.description, timeout: false)
            }
            // What arrived before the failure (the head at least) goes out before the close, as
            // nginx does; the missing end tells the client the answer is incomplete.
            context?.flush()
            context?.close(promise: nil)
            return
        }
        // A pooled connection the upstream had already closed: try once more on a new connection
        // when nothing of the request body has been lost.
        if exchange.wasReused, exchange.attempts < 2, exchange.bodyReplayable, exchange.head.method.isIdempotent {
            connectUpstream(exchange, allowIdle: false)
            return
        }
        stats.upstreamFailed(upstream.address.description, timeout: false)
        metrics.upstreamFailed(upstream.address.description, timeout: false)
        logger.error("upstream closed the connection before responding", metadata: exchange.upstreamLogMetadata([
            "upstream": "\(upstream.address)", "error": "\(error.map(ErrorText.describe) ?? "closed")"]))
        respondLocally(exchange, status: .badGateway, close: false)
    }

    /// True when an upstream answer's `Transfer-Encoding` is absent or exactly `chunked`.
    /// One pass over the fields, no allocation: it runs on every proxied answer.
    static func hasPlainFraming(_ headers: HTTPHeaders) -> Bool {
        var fields = 0
        for header in headers where header.name.utf8.count == 17 && ASCII.equalsIgnoringCase(header.name, "transfer-encoding") {
            fields += 1
            guard fields == 1, ASCII.equalsIgnoringCase(header.value.trimmingASCIISpaces(), "chunked") else { return false }
        }
        return true
    }

    /// The header rules in force for this exchange (its site's, or the edge-wide ones).
    func headerPolicy(_ exchange: Exchange) -> HeaderPolicy {
        if let site = exchange.site ?? siteBeforeRouting(exchange) { return site.headers(tls: listener.tls) }
        return listener.tls ? runtime.defaultHTTPSHeaders : runtime.defaultHTTPHeaders
    }

    /// The site an answer given before routing (a refused head, a 414, 431 or 501) speaks for,
    /// so its header rules (`hsts: off` among them) hold there too, as `Header always` in an
    /// Apache vhost: the site the `Host` names, else the one the TLS server name picked, else the
    /// default site.
    private func siteBeforeRouting(_ exchange: Exchange) -> Site? {
        if let host = exchange.head.headers.first(name: "host").flatMap(HostHeader.hostPart),
           let site = runtime.router.site(for: host.lowercased()) {
            return site
        }
        if listener.tls, let serverName = scope.serverName, let site = runtime.router.tlsSite(for: serverName) {
            return site
        }
        return runtime.router.site(for: nil)
    }

    /// The upstream's response headers for the client, in one pass: hop-by-hop headers removed,
    /// the site's header rules applied (`Server` without a version, the security headers), and an
    /// absolute `Location` that points at the upstream rewritten to the address the client used
    /// (Apache's `ProxyPassReverse`).
    private func responseHeaders(_ upstreamHeaders: HTTPHeaders, status: HTTPResponseStatus, exchange: Exchange) -> HTTPHeaders {
        let policy = headerPolicy(exchange)
        var listed: [String] = []
        for header in upstreamHeaders where header.name.utf8.count == 10 && ASCII.equalsIgnoringCase(header.name, "connection") {
            // The usual values name no other header: skip parsing them.
            if ASCII.equalsIgnoringCase(header.value, "keep-alive") || ASCII.equalsIgnoringCase(header.value, "close") { continue }
            listed = HopByHopHeaders.connectionTokens(upstreamHeaders)
            break
        }
        var kept: [(String, String)] = []
        kept.reserveCapacity(upstreamHeaders.count + policy.set.count + policy.append.count + 1)
        var hasDate = false
        var hasFreshness = false
        var contentType: String?
        for header in upstreamHeaders {
            let name = header.name
            switch name.utf8.count {
            case 4 where ASCII.equalsIgnoringCase(name, "date"): hasDate = true
            case 7 where ASCII.equalsIgnoringCase(name, "expires"): hasFreshness = true
            case 12 where ASCII.equalsIgnoringCase(name, "content-type"): contentType = header.value
            case 13 where ASCII.equalsIgnoringCase(name, "cache-control"): hasFreshness = true
            // A 204 has no body, whatever length the upstream claims (RFC 9110 §8.6); passing
            // the claim on would break the stream's framing over HTTP/2.
            case 14 where status == .noContent && ASCII.equalsIgnoringCase(name, "content-length"): continue
            default: break
            }
            if HopByHopHeaders.isHopByHop(name) || policy.removes(name) { continue }
            if !listed.isEmpty, listed.contains(where: { ASCII.equalsIgnoringCase(name, $0) }) { continue }
            if (name.utf8.count == 8 && ASCII.equalsIgnoringCase(name, "location"))
                || (name.utf8.count == 16 && ASCII.equalsIgnoringCase(name, "content-location")) {
                kept.append((name, rewrittenLocation(header.value, exchange: exchange)))
                continue
            }
            // Whitespace around a value is not part of it (RFC 9112 §5), and HTTP/2 forbids it.
            kept.append((name, ASCII.hasOuterWhitespace(header.value) ? header.value.trimmingASCIISpaces() : header.value))
        }
        // A proxy with a clock adds the Date an upstream left out (RFC 9110 §6.6.1).
        if !hasDate { kept.append(("Date", httpDate())) }
        // mod_expires: the lifetime of the type, unless the upstream said how long to keep it.
        if !hasFreshness, settings.expiresProxied, let contentType, status == .ok || status == .partialContent,
           let lifetime = settings.expires[MediaTypes.essence(contentType)] {
            // A site's own `set` or `unset` of these fields wins, as over the upstream's.
            if !policy.removes("Cache-Control") { kept.append(("Cache-Control", "max-age=\(lifetime)")) }
            if !policy.removes("Expires") { kept.append(("Expires", HTTPDate.format(Int(time(nil)) + lifetime))) }
        }
        policy.finish(&kept)
        return HTTPHeaders(kept)
    }

    private func rewrittenLocation(_ value: String, exchange: Exchange) -> String {
        guard value.hasPrefix("http://"), let route = exchange.route else { return value }
        for upstream in route.upstreams {
            let prefix = "http://\(upstream)"
            guard value.hasPrefix(prefix) else { continue }
            let rest = value.dropFirst(prefix.count)
            guard rest.isEmpty || rest.hasPrefix("/") || rest.hasPrefix("?") else { return value }
            // A route that maps its path onto another upstream path maps it back here.
            guard let publicRest = route.publicPath(forUpstreamPath: rest) else { return value }
            let host = exchange.facts?.rawHost ?? exchange.site?.primaryHost ?? "localhost"
            return "\(forwarded.scheme)://\(host)\(publicRest)"
        }
        return value
    }

    /// After `101 Switching Protocols`: the client and upstream connections become a byte tunnel
    /// (WebSocket), with the HTTP handlers taken out of both pipelines.
    private func switchToTunnel(_ exchange: Exchange, head: HTTPResponseHead) {
        guard let context, let upstream = exchange.upstream else { return }
        exchange.upstream = nil
        exchange.responseStarted = true
        exchange.responseEnded = true
        exchange.status = 101
        recordAccess(exchange)
        endInFlight(exchange)
        self.exchange = nil
        deadlineTimer?.cancel()
        deadlineTimer = nil

        var headers = HTTPHeaders()
        for header in head.headers where !HopByHopHeaders.isHopByHop(header.name) {
            headers.add(name: header.name, value: header.value)
        }
        headers.add(name: "Connection", value: "Upgrade")
        headers.add(name: "Upgrade", value: head.headers.first(name: "upgrade") ?? "websocket")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .switchingProtocols,
                                                             headers: headers))), promise: nil)
        context.flush()

        let timeout = TimeAmount.seconds(Int64(settings.proxyTimeoutSeconds))
        let clientEnd = TunnelHandler(idleTimeout: timeout)
        let upstreamEnd = TunnelHandler(idleTimeout: timeout)
        clientEnd.peer = upstreamEnd
        upstreamEnd.peer = clientEnd
        do {
            let clientChannel = context.channel
            let clientPipeline = context.pipeline.syncOperations
            let upstreamPipeline = upstream.channel.pipeline.syncOperations
            // First every HTTP handler between the tunnel's ends and the sockets goes ...
            try upstreamPipeline.addHandler(upstreamEnd)
            upstream.handler.owner = nil
            upstreamPipeline.removeHandler(upstream.handler, promise: nil)
            upstreamPipeline.removeHandler(try upstreamPipeline.handler(type: HTTPRequestEncoder.self), promise: nil)
            try clientPipeline.addHandler(clientEnd)
            clientPipeline.removeHandler(try clientPipeline.handler(type: HTTPResponseEncoder.self), promise: nil)
            let clientDecoder = try clientPipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            let upstreamDecoder = try upstreamPipeline.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self)
            upstream.setAutoRead(true)
            // Reads were held after the upgrade request; the tunnel takes them from here.
            resumeReads()
            clientPipeline.removeHandler(self, promise: nil)
            // ... then the decoders, which hand the bytes they hold (read together with the 101 or
            // with the upgrade request) to the tunnel. The upstream's decoder is still in the read
            // that delivered the 101, so it does so once that read unwinds: flush both ways on
            // the next turn of the loop, not at the next read.
            upstreamPipeline.removeHandler(upstreamDecoder, promise: nil)
            clientPipeline.removeHandler(clientDecoder, promise: nil)
            let upstreamChannel = upstream.channel
            clientChannel.eventLoop.assumeIsolated().execute {
                clientChannel.flush()
                upstreamChannel.flush()
            }
        } catch {
            logger.error("cannot switch to a WebSocket tunnel", metadata: ["error": "\(error)"])
            upstream.close()
            context.close(promise: nil)
        }
    }

    /// The status page (mod_status), HTML or JSON.
    private func serveStatus(_ exchange: Exchange) {
        let snapshot = stats.snapshot(openConnections: connections.count, configuredUpstreams: runtime.upstreamAddresses)
        let cacheUsage = runtime.responseCache?.usage
        let query = exchange.head.uri.split(separator: "?", maxSplits: 1).dropFirst().first
            .map { $0.split(separator: "&") } ?? []
        // As mod_status: any argument naming `auto` (`?auto`, `?auto=1`, `?refresh=5&auto`).
        if query.contains(where: { $0.split(separator: "=", maxSplits: 1).first == "auto" }) {
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
            headers.add(name: "Cache-Control", value: "no-store")
            respondLocally(exchange, status: .ok, extraHeaders: headers, body: StatusPage.auto(snapshot), close: false)
            return
        }
        let wantsJSON = query.contains(where: { $0.split(separator: "=", maxSplits: 1).first == "json" }) || ErrorPage.prefersJSON(exchange.head.headers.first(name: "accept"))
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: wantsJSON ? "application/json" : "text/html; charset=utf-8")
        headers.add(name: "Cache-Control", value: "no-store")
        respondLocally(exchange, status: .ok, extraHeaders: headers,
                       body: wantsJSON ? StatusPage.json(snapshot, cache: cacheUsage) : StatusPage.html(snapshot, cache: cacheUsage),
                       close: false)
    }

    // MARK: Local answers

    private func redirect(_ exchange: Exchange, to scheme: String, host: String, port: Int) {
        let defaultPort = scheme == "https" ? 443 : 80
        let location = "\(scheme)://\(host)\(port == defaultPort ? "" : ":\(port)")\(exchange.head.uri.hasPrefix("/") ? exchange.head.uri : "/")"
        var headers = HTTPHeaders()
        headers.add(name: "Location", value: location)
        let body = "<!DOCTYPE html>\n<html lang=\"pt-BR\"><head><meta charset=\"utf-8\"><title>301</title></head>"
            + "<body><p>Este endereço mudou para <a href=\"\(HTMLEscape.escape(location))\">\(HTMLEscape.escape(location))</a>.</p></body></html>\n"
        headers.add(name: "Content-Type", value: "text/html; charset=utf-8")
        respondLocally(exchange, status: .movedPermanently, extraHeaders: headers, body: body,
                       close: !exchange.requestEnded && (exchange.facts?.hasBody ?? RequestValidator.hasBody(exchange.head)))
    }

    /// Answers the client with a page of the edge's own instead of an upstream response.
    func respondLocally(_ exchange: Exchange, status: HTTPResponseStatus, extraHeaders: HTTPHeaders = [:],
                                body customBody: String? = nil, close: Bool, logAsMalformed: Bool = false) {
        guard let context, !exchange.responseStarted else { return }
        if status.code >= 502 && status.code <= 504, exchange.cacheUse != nil, let stale = staleAnswer(for: exchange) {
            // The upstream is unreachable or silent: a stored answer stands in (`stale_on_error`).
            serveStale(stale, to: exchange)
            return
        }
        exchange.answeredLocally = true
        exchange.responseStarted = true
        exchange.responseEnded = true
        exchange.status = status.code
        exchange.bufferedBody.removeAll()
        resumeReads()
        var headers: HTTPHeaders
        var body: ByteBuffer?
        if let customBody {
            headers = extraHeaders
            headers.add(name: "Content-Length", value: String(customBody.utf8.count))
            body = compressedLocalBody(context.channel.allocator.buffer(string: customBody), status: status,
                                       headers: &headers, exchange: exchange)
        } else if status == .ok {
            headers = extraHeaders
            headers.add(name: "Content-Length", value: "0")
        } else {
            let page = ErrorPage.response(status: status, accept: exchange.head.headers.first(name: "accept"),
                                          allocator: context.channel.allocator)
            headers = page.0
            for header in extraHeaders { headers.add(name: header.name, value: header.value) }
            body = page.1
        }
        if exchange.head.method == .CONNECT, body != nil {
            // NIO's encoder sends no body after any answer to CONNECT: the length must say so.
            body = nil
            headers.replaceOrAdd(name: "Content-Length", value: "0")
            headers.remove(name: "Content-Encoding")
        }
        // A body still on its way cannot be skipped reliably: close after answering.
        if close || (!exchange.requestEnded && (exchange.facts?.hasBody ?? RequestValidator.hasBody(exchange.head))) {
            exchange.keepAlive = false
        }
        addConnectionField(&headers, exchange: exchange)
        headers.add(name: "Date", value: httpDate())
        // On a cached route every answer says how the cache took part, the edge's own errors too.
        if let cacheStatus = exchange.cacheStatus { headers.add(name: "X-Cache", value: cacheStatus) }
        headerPolicy(exchange).apply(to: &headers)
        exchange.bytesSent = exchange.head.method == .HEAD ? 0 : (body?.readableBytes ?? 0)
        writeHead(status: status, headers: headers, exchange: exchange)
        if exchange.head.method != .HEAD, let body {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        if logAsMalformed { exchange.status = status.code }
        finishExchange(exchange, trailers: nil)
    }

    /// Writes a final response head; on HTTP/1 with its framing fields set (`ResponseFraming`).
    func writeHead(status: HTTPResponseStatus, headers: HTTPHeaders, exchange: Exchange) {
        guard let context else { return }
        let version = responseVersion(exchange, status: status, headers: headers)
        var headers = headers
        if !http2 {
            ResponseFraming.frame(&headers, status: status, version: version)
        } else if !status.mayHaveResponseBody, headers.contains(name: "content-length") {
            // As on HTTP/1: a 204 or 304 carries no length (the same answer over both protocols).
            headers.remove(name: "content-length")
        }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
    }

    /// `Connection: close` when the connection ends with this answer; `keep-alive` for an
    /// HTTP/1.0 client that keeps it, since HTTP/1.0 persists only when told so. HTTP/2 has neither.
    func addConnectionField(_ headers: inout HTTPHeaders, exchange: Exchange) {
        guard !http2 else { return }
        if !exchange.keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if exchange.head.version.minor == 0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
    }

    /// A page of the edge's own (status page, metrics) compressed like an upstream's answer would
    /// be; `headers` get the matching `Content-Encoding`, `Content-Length` and `Vary`.
    private func compressedLocalBody(_ body: ByteBuffer, status: HTTPResponseStatus, headers: inout HTTPHeaders,
                                     exchange: Exchange) -> ByteBuffer {
        guard let context else { return body }
        let acceptEncoding = exchange.facts?.acceptEncoding ?? exchange.head.headers.first(name: "accept-encoding")
        let decision = CompressionDecision.decide(status: status, method: exchange.head.method, headers: headers,
                                                  acceptEncoding: acceptEncoding, settings: settings)
        if decision.vary { CompressionDecision.addVary(&headers) }
        guard let coding = decision.coding,
              let compressed = try? BodyCompressors.compressWhole(body, coding: coding, gzipLevel: settings.compressionLevel,
                                                                  brotliLevel: settings.brotliLevel,
                                                                  allocator: context.channel.allocator)
        else { return body }
        CompressionDecision.compressedHeaders(&headers, coding: coding)
        headers.add(name: "Content-Length", value: String(compressed.readableBytes))
        return compressed
    }

    private func endInFlight(_ exchange: Exchange) {
        guard exchange.inFlight else { return }
        exchange.inFlight = false
        scope.exchangeEnded(stats)
    }

    /// The current time as an HTTP date, formatted once per second per connection.
    func httpDate() -> String {
        scope.httpDate()
    }

    /// The version in the status line: `HTTP/1.1` for every HTTP/1.x client, as Apache and nginx
    /// answer (RFC 9110 §6.2), except a close-delimited answer to an HTTP/1.0 client (no
    /// `Content-Length`), whose head stays `HTTP/1.0` so the encoder never chunks it: HTTP/1.0
    /// has no chunked coding.
    func responseVersion(_ exchange: Exchange, status: HTTPResponseStatus, headers: HTTPHeaders) -> HTTPVersion {
        if http2 { return exchange.head.version }
        if exchange.head.version.minor == 0, status.mayHaveResponseBody, !headers.contains(name: "content-length") {
            return .http1_0
        }
        return .http1_1
    }

    /// Writes the exchange's access-log line, to the edge's log and its site's.
    @discardableResult
    private func recordAccess(_ exchange: Exchange) -> AccessLogEntry {
        let entry = exchange.logEntry()
        runtime.accessLog?.record(entry)
        exchange.site?.accessLog?.record(entry)
        return entry
    }

    /// Ends the response; the exchange is detached first because ending it may start the next
    /// pipelined request at once.
    func finishExchange(_ exchange: Exchange, trailers: HTTPHeaders?) {
        guard let context, self.exchange === exchange else { return }
        self.exchange = nil
        // A file being sent is closed once the last write has gone out (sendfile reads it late).
        let openFile = exchange.openFile
        exchange.openFile = nil
        let entry = recordAccess(exchange)
        stats.exchangeFinished(status: Int(exchange.status), bytesSent: exchange.bytesSent,
                               bytesReceived: exchange.requestBodyBytes)
        endInFlight(exchange)
        let siteName = exchange.site?.name ?? "-"
        if scope.siteMetrics?.site != siteName { scope.siteMetrics = metrics.siteMetrics(siteName) }
        if let siteMetrics = scope.siteMetrics {
            siteMetrics.countRequest(status: Int(exchange.status))
            siteMetrics.record(nanoseconds: entry.durationNanoseconds, bytesSent: exchange.bytesSent,
                               bytesReceived: exchange.requestBodyBytes)
        }
        if let address = entry.upstream, let upstreamTime = entry.upstreamHeaderNanoseconds {
            stats.upstreamAnswered(address, milliseconds: Double(upstreamTime) / 1_000_000)
        }
        if http2 && exchange.keepAlive && !closing {
            // The stream ends with its response: no idle phase, no deadline to keep.
            phase = .responding
            if let openFile {
                context.writeAndFlush(wrapOutboundOut(.end(trailers))).whenComplete { _ in withExtendedLifetime(openFile) {} }
            } else {
                context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
            }
            resumeReads()
        } else if exchange.keepAlive && !closing {
            phase = .idle(since: .now(), firstRequest: false)
            let written = context.writeAndFlush(wrapOutboundOut(.end(trailers)))
            // Kept so a graceful stop can wait for it before closing.
            lastResponseWrite = written
            if let openFile {
                // Holding the file until the write completes keeps it open for sendfile.
                written.whenComplete { _ in withExtendedLifetime(openFile) {} }
            }
            resumeReads()
            drainQueue()
            if self.exchange == nil { armDeadline() }
        } else if exchange.keepAlive, let refusal = pipelinedRefusal {
            // A malformed request was pipelined behind this one: its answer follows, then the close.
            pipelinedRefusal = nil
            let written = context.write(wrapOutboundOut(.end(trailers)))
            if let openFile { written.whenComplete { _ in withExtendedLifetime(openFile) {} } }
            refuseUnparsedRequest(status: refusal, rawLine: "")
        } else {
            closing = true
            // No read deadline any more: the lingering close below has its own limits, and a
            // second answer (a 408 after a 431 to a client that keeps sending) would be wrong.
            phase = .responding
            deadlineTimer?.cancel()
            deadlineTimer = nil
            deadlineTimerFiresAt = nil
            armDeadline()  // still bounds a client that does not read the answer (client_timeout)
            let channel = context.channel
            // A client still sending its request (a refused upload, a malformed request) is
            // drained after the answer rather than reset, so the answer reaches it.
            let linger = !http2 && !exchange.requestEnded && !exchange.clientTimedOut
            context.writeAndFlush(wrapOutboundOut(.end(trailers))).whenComplete { _ in
                withExtendedLifetime(openFile) {}
                if linger {
                    LingeringClose.start(on: channel)
                } else {
                    channel.close(promise: nil)
                }
            }
        }
    }

    // MARK: Flow control and deadlines

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

    /// The moment the connection has waited too long in its current phase, if any.
    private func currentDeadline() -> NIODeadline? {
        let rate = Int64(max(settings.minRateBytesPerSecond, 1))
        var deadline: NIODeadline?
        switch phase {
        case .idle(let since, let first):
            let timeout = first ? settings.requestHeaderTimeoutSeconds : settings.keepAliveTimeoutSeconds
            deadline = since + .seconds(Int64(timeout))
        case .readingHead(let since, let bytes):
            let extended = Int64(settings.requestHeaderTimeoutSeconds) + (settings.minRateBytesPerSecond > 0 ? Int64(bytes) / rate : 0)
            deadline = since + .seconds(min(extended, Int64(settings.requestHeaderMaxTimeoutSeconds)))
        case .readingBody(let since, let bytes):
            let extended = Int64(settings.requestBodyTimeoutSeconds) + (settings.minRateBytesPerSecond > 0 ? Int64(bytes) / rate : 0)
            deadline = since + .seconds(extended)
        case .responding:
            deadline = nil
        }
        if let stalled = writeStalledSince {
            let writeDeadline = stalled + .seconds(Int64(settings.clientTimeoutSeconds))
            deadline = min(deadline ?? writeDeadline, writeDeadline)
        }
        return deadline
    }

    private func armDeadline() {
        guard let context, let deadline = currentDeadline() else { return }
        if let firesAt = deadlineTimerFiresAt, deadlineTimer != nil, firesAt <= deadline { return }
        deadlineTimer?.cancel()
        deadlineTimerFiresAt = deadline
        deadlineTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            self?.deadlineReached()
        }
    }

    /// Answers a client whose request head never became one (too slow, or a request line
    /// without an HTTP version), below the HTTP handlers, logs it as received, and closes.
    private func answerBeforeHead(status: HTTPResponseStatus, body: String) {
        guard let context, let observer else { return }
        closing = true
        let answer = RawAnswer(status: status, body: body)
        let policy = listener.tls ? runtime.defaultHTTPSHeaders : runtime.defaultHTTPHeaders
        observer.writeRawAndClose(answer.text(policy: policy))
        // Logged at the time the request began to arrive, as every other line is (Apache's %t).
        var waited: Int64 = 0
        if case .readingHead(let since, _) = phase { waited = max((NIODeadline.now() - since).nanoseconds, 0) }
        runtime.accessLog?.record(AccessLogEntry(
            clientAddress: context.channel.remoteAddress?.ipAddress ?? "-", time: time(nil) - Int(waited / 1_000_000_000),
            method: "-", uri: "-", version: "-", status: Int(status.code), bytesSent: answer.body.utf8.count, referer: nil,
            userAgent: nil, upstream: nil, durationNanoseconds: waited, rawRequestLine: requestLine.text))
    }

    private func deadlineReached() {
        deadlineTimer = nil
        deadlineTimerFiresAt = nil
        guard let context, let deadline = currentDeadline() else { return }
        if deadline > .now() {
            armDeadline()
            return
        }
        if let stalled = writeStalledSince, stalled + .seconds(Int64(settings.clientTimeoutSeconds)) <= .now() {
            logger.info("client stopped reading; closing", metadata: ["client": "\(context.channel.remoteAddress?.ipAddress ?? "-")"])
            context.close(promise: nil)
            return
        }
        switch phase {
        case .idle:
            closing = true
            context.close(promise: nil)
        case .readingHead:
            closing = true
            logger.info("request head not received in time", metadata: [
                "client": "\(context.channel.remoteAddress?.ipAddress ?? "-")"])
            if exchange == nil, observer != nil {
                answerBeforeHead(status: .requestTimeout, body: "Tempo esgotado aguardando a requisição.\n")
            } else {
                context.close(promise: nil)
            }
        case .readingBody:
            logger.info("request body not received in time", metadata: [
                "client": "\(context.channel.remoteAddress?.ipAddress ?? "-")"])
            if let exchange, !exchange.responseStarted {
                exchange.dropUpstream()
                exchange.clientTimedOut = true
                respondLocally(exchange, status: .requestTimeout, close: true)
            } else {
                context.close(promise: nil)
            }
        case .responding:
            break
        }
    }
}

extension ProxyHandler: UpstreamConnectionOwner {}

extension HTTPMethod {
    /// Methods a proxy may send again after a connection failure (RFC 9110 §9.2.2).
    var isIdempotent: Bool {
        switch self {
        case .GET, .HEAD, .PUT, .DELETE, .OPTIONS, .TRACE: true
        default: false
        }
    }
}
