import Foundation
public import Logging
import NIOConcurrencyHelpers
public import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOHTTP2
import NIOTLS
import PortalCore
public import ServiceLifecycle
import UnixSignals

/// The edge: listeners that terminate TLS (choosing the certificate by SNI) and serve the sites,
/// proxying to upstreams or redirecting to HTTPS. Runs until graceful shutdown, then stops
/// accepting, lets in-flight requests finish (up to the drain timeout) and writes out the logs.
///
/// SIGHUP reloads the configuration (validated first; a bad one is refused and the old one keeps
/// serving); SIGUSR1 reopens the log files.
public final class EdgeServer: Service {
    private let store: EdgeRuntimeStore
    private let reloader: (@Sendable () throws -> EdgeRuntime)?
    private let onReload: (@Sendable (_ error: String?) -> Void)?
    private let errorLog: ErrorLogFile?
    private let logger: Logger
    private let group: any EventLoopGroup
    /// The group this server made itself (`edge.workers`), shut down when it stops.
    private let ownGroup: MultiThreadedEventLoopGroup?
    private let connections = ConnectionRegistry()
    private let stats = EdgeStats()
    private let metrics = EdgeMetrics()
    private let pools: UpstreamPools
    private let fileCaches = OpenFileCaches()
    private let bound = NIOLockedValueBox<[Listener: any Channel]>([:])

    /// Creates the edge with `runtime`; `reloader` builds a new runtime on SIGHUP.
    /// `onReload` hears the outcome of every reload (nil on success, else the reason).
    public init(runtime: EdgeRuntime, logger: Logger, reloader: (@Sendable () throws -> EdgeRuntime)? = nil,
                onReload: (@Sendable (_ error: String?) -> Void)? = nil,
                errorLog: ErrorLogFile? = nil,
                eventLoopGroup: (any EventLoopGroup)? = nil) {
        self.errorLog = errorLog
        self.store = EdgeRuntimeStore(runtime)
        self.reloader = reloader
        self.onReload = onReload
        self.logger = logger
        if let eventLoopGroup {
            self.group = eventLoopGroup
            self.ownGroup = nil
        } else if runtime.settings.workers > 0 {
            let own = MultiThreadedEventLoopGroup(numberOfThreads: runtime.settings.workers)
            self.group = own
            self.ownGroup = own
        } else {
            self.group = MultiThreadedEventLoopGroup.singleton
            self.ownGroup = nil
        }
        self.pools = UpstreamPools(settings: UpstreamPoolSettings(runtime.settings))
    }

    /// The listeners bound right now.
    public var listeners: [Listener] {
        bound.withLockedValue { Array($0.keys) }
    }

    public func run() async throws {
        let runtime = store.current.runtime
        for warning in runtime.warnings { logger.warning("\(warning)") }
        recordCertificates(runtime)
        do {
            for listener in runtime.listeners {
                let channel = try await bind(listener)
                bound.withLockedValue { $0[listener] = channel }
            }
        } catch {
            await closeListeners()
            runtime.accessLog?.close()
            try? await ownGroup?.shutdownGracefully()
            throw error
        }
        logger.info("edge listening", metadata: [
            "listeners": "\(runtime.listeners.map(\.description))",
            "sites": "\(runtime.sites.map(\.name))",
        ])

        // Signals and new OCSP answers arrive on one stream, so reloads never overlap.
        let signals = await UnixSignalsSequence(trapping: .sighup, .sigusr1)
        let (events, sink) = AsyncStream.makeStream(of: Event.self)
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await signal in signals.cancelOnGracefulShutdown() {
                    sink.yield(signal == .sighup ? .reload : .reopenLogs)
                }
            }
            group.addTask { [self] in
                await keepOCSPAnswersFresh { sink.yield(.ocspAnswersChanged) }
            }
            for await event in events.cancelOnGracefulShutdown() {
                switch event {
                case .reload:
                    await reload()
                case .reopenLogs:
                    logger.info("reopening log files")
                    reopenLogs()
                case .ocspAnswersChanged:
                    await apply(success: "OCSP answers changed, TLS contexts rebuilt", refused: "OCSP rebuild refused") {
                        try EdgeRuntime.resolve(self.store.current.runtime.configuration)
                    }
                }
            }
            group.cancelAll()
        }
        sink.finish()

        logger.info("edge stopping: no new connections, finishing requests in flight")
        await closeListeners()
        let current = store.current.runtime
        await connections.drain(timeout: .seconds(Int64(current.settings.drainTimeoutSeconds)))
        await pools.closeAll()
        current.accessLog?.close()
        for site in current.sites { site.accessLog?.close() }
        try? await ownGroup?.shutdownGracefully()
        logger.info("edge stopped")
        errorLog?.flush()
    }

    /// Applies a new configuration: validated and loaded first, new listeners bound, then swapped
    /// in for new requests; listeners no longer wanted close; requests in flight are untouched.
    public func reload() async {
        guard let reloader else {
            logger.warning("reload requested, but this edge was started without a configuration to reload")
            return
        }
        await apply(success: "configuration reloaded", refused: "reload refused", reloader)
    }

    /// Keeps the OCSP answers of the served certificates fresh, calling `changed` when new ones
    /// are kept, until the task is cancelled.
    private func keepOCSPAnswersFresh(changed: @Sendable () -> Void) async {
        while !Task.isCancelled {
            let runtime = store.current.runtime
            var nextCheck = Date().addingTimeInterval(3_600)
            if !runtime.ocspSubjects.isEmpty {
                let fetcher = OCSPFetcher(cache: runtime.ocspCache, logger: logger)
                let outcome = await fetcher.refresh(runtime.ocspSubjects)
                if outcome.changed { changed() }
                nextCheck = outcome.nextCheck
            }
            // A reload may bring new certificates: look again within ten minutes in any case.
            let wait = min(max(nextCheck.timeIntervalSinceNow, 60), 600)
            do {
                try await Task.sleep(for: .seconds(wait))
            } catch {
                return
            }
        }
    }

    /// What the edge's run loop reacts to, one at a time.
    private enum Event {
        case reload, reopenLogs, ocspAnswersChanged
    }

    /// Builds a runtime with `make` and swaps it in: validated and loaded first, new listeners
    /// bound, then used for new requests; `success` is logged when it is in force.
    private func apply(success: Logger.Message, refused: String, _ make: () throws -> EdgeRuntime) async {
        let next: EdgeRuntime
        do {
            next = try make()
        } catch {
            logger.error("\(refused): the configuration has errors; the running configuration stays in force",
                         metadata: ["errors": "\(error)"])
            onReload?("\(error)")
            return
        }
        let previousErrorLog = errorLog?.path
        if let errorLog {
            // A changed `error_log` takes effect with the reload, like every other path.
            let path = next.settings.errorLog ?? ErrorLogFile.defaultPath(dataDirectory: DataDirectory(next.configuration.dataDirectory))
            if path != errorLog.path {
                do {
                    try errorLog.move(to: path, settings: EdgeSettingsRotation(next.settings))
                } catch {
                    next.accessLog?.close()
                    logger.error("\(refused): \(error); the running configuration stays in force")
                    onReload?("\(error)")
                    return
                }
            }
        }
        let current = bound.withLockedValue { $0 }
        let wanted = Set(next.listeners)
        var added: [Listener: any Channel] = [:]
        do {
            for listener in wanted.subtracting(current.keys) {
                added[listener] = try await bind(listener)
            }
        } catch {
            for channel in added.values { try? await channel.close() }
            next.accessLog?.close()
            if let errorLog, let previousErrorLog, previousErrorLog != errorLog.path {
                try? errorLog.move(to: previousErrorLog, settings: EdgeSettingsRotation(store.current.runtime.settings))
            }
            logger.error("\(refused): \(error); the running configuration stays in force")
            onReload?("\(error)")
            return
        }
        let previous = store.replace(with: next)
        recordCertificates(next)
        for warning in next.warnings { logger.warning("\(warning)") }
        if next.settings.workers != previous.settings.workers {
            logger.warning("edge.workers changed from \(previous.settings.workers) to \(next.settings.workers): the event-loop threads are set at start, so this takes effect on the next restart")
        }
        for (listener, channel) in current where !wanted.contains(listener) {
            try? await channel.close()
            bound.withLockedValue { _ = $0.removeValue(forKey: listener) }
        }
        bound.withLockedValue { $0.merge(added) { $1 } }
        previous.accessLog?.flush()
        logger.info(success, metadata: [
            "listeners": "\(next.listeners.map(\.description))", "sites": "\(next.sites.map(\.name))"])
        onReload?(nil)
    }

    private func recordCertificates(_ runtime: EdgeRuntime) {
        metrics.certificatesInForce(runtime.sites.compactMap { site in
            site.certificateNotAfter.map { (site.name, $0) }
        })
        metrics.prepareCounters(upstreams: runtime.sites.flatMap { site in
            site.routes.flatMap { $0.upstreams.map(\.description) }
        })
    }

    /// Reopens every log file (after an outside tool moved them away).
    public func reopenLogs() {
        errorLog?.reopen()
        let runtime = store.current.runtime
        runtime.accessLog?.reopen()
        for site in runtime.sites { site.accessLog?.reopen() }
    }

    private func closeListeners() async {
        let channels = bound.withLockedValue { bound -> [any Channel] in
            let channels = Array(bound.values)
            bound.removeAll()
            return channels
        }
        for channel in channels { try? await channel.close() }
    }

    private func bind(_ listener: Listener) async throws -> any Channel {
        let isIPv6 = IPAddress(listener.address)?.bytes.count == 16
        // NIO sets TCP_NODELAY on the listening socket and accepted sockets inherit it, so
        // setting it again would only cost a system call per connection.
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 512)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
        if isIPv6 {
            // IPv6 only, so "::" and "0.0.0.0" on the same port can both be listed.
            bootstrap = bootstrap.serverChannelOption(
                ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: 1)
        }
        let connections = self.connections
        let stats = self.stats
        let metrics = self.metrics
        let fileCaches = self.fileCaches
        let store = self.store
        let pools = self.pools
        let logger = self.logger
        bootstrap = bootstrap.childChannelInitializer { channel in
            let runtime = store.current.runtime
            let limit = runtime.settings.maxConnections
            guard connections.add(channel, limit: limit) else {
                connections.noteRefusal(logger: logger, limit: limit)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ConnectionRefusal(
                        plainHTTPAnswerWith: listener.tls ? nil : runtime.defaultHTTPHeaders))
                }
            }
            do {
                try Self.configure(channel, listener: listener, store: store, pools: pools, logger: logger,
                                   stats: stats, metrics: metrics, connections: connections, fileCaches: fileCaches)
                return channel.eventLoop.makeSucceededVoidFuture()
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }
        let role = listener.tls ? "HTTPS" : "HTTP"
        // Listeners written in the file are changed there; the port flags only replace the default ones.
        let settings = store.current.runtime.settings
        let flag = listener.tls
            ? (settings.httpsListeners == nil ? "--https-port" : "edge.https_listeners (in the configuration file)")
            : (settings.httpListeners == nil ? "--http-port" : "edge.http_listeners (in the configuration file)")
        do {
            return try await bootstrap.bind(host: listener.address, port: listener.port).get()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw EdgeStartupError(PortInUseMessage.text(port: listener.port, address: listener.address,
                                                          role: "\(role) (edge)", flag: flag))
        } catch let error as IOError where error.errnoCode == EACCES {
            throw EdgeStartupError("""
                cannot listen on \(listener.address):\(listener.port) for \(role): permission denied. Ports below \
                1024 need CAP_NET_BIND_SERVICE (see deploy/portal-edge.service) or choose another port with \(flag)
                """)
        } catch let error as IOError where error.errnoCode == EADDRNOTAVAIL {
            throw EdgeStartupError("cannot listen on \(listener.address):\(listener.port) for \(role): \(listener.address) is not an address of this machine")
        } catch {
            throw EdgeStartupError("cannot listen on \(listener.address):\(listener.port) for \(role): \(error)")
        }
    }

    /// The pipeline of one client connection: [SNI → TLS → ALPN] → byte observer → HTTP/1.1 → proxy,
    /// or, when the client chose `h2`, HTTP/2 with one proxy handler per stream.
    private static func configure(_ channel: any Channel, listener: Listener, store: EdgeRuntimeStore,
                                  pools: UpstreamPools, logger: Logger, stats: EdgeStats, metrics: EdgeMetrics,
                                  connections: ConnectionRegistry, fileCaches: OpenFileCaches) throws {
        let operations = channel.pipeline.syncOperations
        let handlers = ConnectionHandlers(listener: listener, store: store, pools: pools, logger: logger,
                                          stats: stats, metrics: metrics, connections: connections, fileCaches: fileCaches)
        guard listener.tls else {
            try handlers.addHTTP1(to: channel)
            return
        }
        // Until the handshake is done no HTTP deadline applies: a client that never finishes it
        // is cut off after the request-header timeout.
        let handshakeTimer = HandshakeDeadline(timeout: .seconds(Int64(store.current.runtime.settings.requestHeaderTimeoutSeconds)))
        try operations.addHandler(handshakeTimer)
        try operations.addHandler(PlainHTTPOnTLSPort(store: store))
        // The SNI name, kept for the requests: a Host naming a site with another certificate gets 421.
        let requestedName = NIOLockedValueBox<String?>(nil)
        let negotiation = ApplicationProtocolNegotiationHandler { result, channel in
            handshakeTimer.cancel()
            let serverName = requestedName.withLockedValue { $0 }
            return channel.eventLoop.makeCompletedFuture {
                if case .negotiated("h2") = result {
                    try handlers.addHTTP2(to: channel, serverName: serverName)
                } else {
                    handlers.metrics.tlsHandshake(succeeded: true)
                    try handlers.addHTTP1(to: channel, serverName: serverName)
                }
            }
        }
        // Between the TLS handler (inserted before it once SNI picked the certificate) and ALPN.
        let failures = HandshakeFailureCounter(metrics: metrics)
        try operations.addHandler(ByteToMessageHandler(SNIHandler { result in
            let runtime = store.current.runtime
            var serverName: String?
            if case .hostname(let name) = result { serverName = name }
            requestedName.withLockedValue { $0 = serverName }
            guard let context = runtime.router.tlsSite(for: serverName)?.tlsContext ?? runtime.fallbackTLSContext else {
                return channel.eventLoop.makeFailedFuture(TLSSetupError("no certificate for \(serverName ?? "a client without SNI")"))
            }
            do {
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context),
                                                               position: .before(failures))
                return channel.eventLoop.makeSucceededVoidFuture()
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }))
        try operations.addHandler(failures)
        try operations.addHandler(negotiation)
    }
}

/// Builds the HTTP part of a client connection's pipeline, for HTTP/1.1 or HTTP/2.
struct ConnectionHandlers: Sendable {
    let listener: Listener
    let store: EdgeRuntimeStore
    let pools: UpstreamPools
    let logger: Logger
    let stats: EdgeStats
    let metrics: EdgeMetrics
    let connections: ConnectionRegistry
    let fileCaches: OpenFileCaches

    /// Responses are framed by the proxy handler (`ResponseFraming`), not by the encoder.
    static let encoderConfiguration: HTTPResponseEncoder.Configuration = {
        var configuration = HTTPResponseEncoder.Configuration()
        configuration.automaticallySetFramingHeaders = false
        return configuration
    }()

    func makeProxy(for channel: any Channel, scope: ConnectionScope, http2: Bool) -> ProxyHandler {
        ProxyHandler(store: store, listener: listener, pool: pools.pool(for: channel.eventLoop), logger: logger,
                     stats: stats, metrics: metrics, connections: connections,
                     fileCache: fileCaches.cache(for: channel.eventLoop), scope: scope, http2: http2)
    }

    func addHTTP1(to channel: any Channel, serverName: String? = nil) throws {
        let settings = store.current.runtime.settings
        let operations = channel.pipeline.syncOperations
        let observer = ClientByteObserver()
        try operations.addHandler(observer)
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = max(settings.maxRequestLineBytes, settings.maxHeaderBytes) + 1
        limits.maxHeaderListSize = settings.maxRequestLineBytes + settings.maxHeaderCount * settings.maxHeaderBytes
        limits.maxHeaderFieldCount = settings.maxHeaderCount + 1
        // Response fields come from NIO's parser (upstream) or from the edge itself, so they are
        // already valid; checking them again on the way out would cost every response.
        // An upgrade configuration without upgraders upgrades nothing (the proxy handler passes
        // WebSocket upgrades to the upstream), but makes the decoder hand on the bytes a client
        // sends right after its upgrade request, so the tunnel carries them.
        try operations.configureHTTPServerPipeline(withPipeliningAssistance: false,
                                                   withServerUpgrade: (upgraders: [], completionHandler: { _ in }),
                                                   withErrorHandling: false,
                                                   withOutboundHeaderValidation: false,
                                                   withEncoderConfiguration: Self.encoderConfiguration,
                                                   withDecoderLimitConfiguration: limits)
        let proxy = makeProxy(for: channel, scope: ConnectionScope(remoteAddress: channel.remoteAddress, serverName: serverName),
                              http2: false)
        observer.proxy = proxy
        proxy.observer = observer
        try operations.addHandler(proxy)
    }

    /// HTTP/2 with NIO's defences on (rapid reset and other stream floods close the connection),
    /// a stream limit, and a header list limit; each stream gets its own proxy handler.
    func addHTTP2(to channel: any Channel, serverName: String?) throws {
        metrics.tlsHandshake(succeeded: true)
        let settings = store.current.runtime.settings
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: settings.http2MaxConcurrentStreams),
            HTTP2Setting(parameter: .maxHeaderListSize, value: settings.maxRequestLineBytes + settings.maxHeaderCount * settings.maxHeaderBytes),
            HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
        ]
        let handlers = self
        // Streams run on the connection's loop, so they can share its scope.
        let scope = NIOLoopBound(ConnectionScope(remoteAddress: channel.remoteAddress, serverName: serverName),
                                 eventLoop: channel.eventLoop)
        let idleStreams = HTTP2IdleTimeout(channel: channel, timeout: .seconds(Int64(settings.keepAliveTimeoutSeconds)))
        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: connection, streamConfiguration: .init(), streamDelegate: idleStreams
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2AuthorityHandler())
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                try stream.pipeline.syncOperations.addHandler(handlers.makeProxy(for: stream, scope: scope.value, http2: true))
            }
        }
        try channel.pipeline.syncOperations.addHandler(idleStreams.makeDrainObserver(logger: logger))
        // Besides keepalive_timeout without streams (above), an HTTP/2 connection silent for
        // longer than any request may wait is closed.
        let idle = max(settings.clientTimeoutSeconds, settings.proxyTimeoutSeconds) + 10
        try channel.pipeline.syncOperations.addHandler(IdleCloseHandler(timeout: .seconds(Int64(idle))), position: .first)
    }
}

/// The edge could not start; the message says what to change.
public struct EdgeStartupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) {
        self.description = description
    }
}

/// The open client connections: counted against the limit, and asked to finish on a graceful stop.
final class ConnectionRegistry: Sendable {
    private let channels = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
    private let lastRefusalLog = NIOLockedValueBox<NIODeadline>(.uptimeNanoseconds(0))

    /// Registers `channel` unless `limit` connections are open already.
    func add(_ channel: any Channel, limit: Int) -> Bool {
        let key = ObjectIdentifier(channel)
        let accepted = channels.withLockedValue { channels -> Bool in
            guard channels.count < limit else { return false }
            channels[key] = channel
            return true
        }
        guard accepted else { return false }
        channel.closeFuture.whenComplete { [weak self] _ in
            self?.channels.withLockedValue { _ = $0.removeValue(forKey: key) }
        }
        return true
    }

    var count: Int { channels.withLockedValue { $0.count } }

    /// Logs a refusal at most once every ten seconds.
    func noteRefusal(logger: Logger, limit: Int) {
        let now = NIODeadline.now()
        let shouldLog = lastRefusalLog.withLockedValue { last -> Bool in
            guard now - last > .seconds(10) else { return false }
            last = now
            return true
        }
        if shouldLog {
            logger.warning("connection refused: \(limit) connections open (edge.max_connections)")
        }
    }

    /// Asks every connection to close once its current request is answered, waits up to `timeout`,
    /// then closes whatever is left.
    func drain(timeout: TimeAmount) async {
        let open = channels.withLockedValue { Array($0.values) }
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        let deadline = NIODeadline.now() + timeout
        while NIODeadline.now() < deadline {
            if channels.withLockedValue({ $0.isEmpty }) { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
        // Cut off what is left, and wait for each close to finish: a cut request is logged as
        // its connection closes, and the access log is closed right after this returns.
        let left = channels.withLockedValue { Array($0.values) }
        for channel in left {
            channel.close(promise: nil)
        }
        for channel in left {
            try? await channel.closeFuture.get()
        }
    }
}
