import Foundation
public import Logging
import NIOConcurrencyHelpers
public import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import PortalCore
public import ServiceLifecycle

/// The edge: HTTPS listeners that terminate TLS and proxy to the upstreams, and HTTP listeners
/// that redirect to HTTPS. Runs until graceful shutdown, then stops accepting, lets in-flight
/// requests finish (up to `drainTimeout`) and writes the rest of the access log.
public final class EdgeServer: Service {
    private let options: EdgeOptions
    private let logger: Logger
    private let group: any EventLoopGroup
    private let connections = ConnectionRegistry()
    /// Longest time a graceful stop waits for in-flight requests.
    private let drainTimeout: TimeAmount

    /// Creates the edge; `eventLoopGroup` defaults to NIO's shared group.
    public init(options: EdgeOptions, logger: Logger, drainTimeout: TimeAmount = .seconds(10),
                eventLoopGroup: (any EventLoopGroup)? = nil) {
        self.options = options
        self.logger = logger
        self.drainTimeout = drainTimeout
        self.group = eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton
    }

    public func run() async throws {
        let accessLog = try options.accessLogPath.map { try AccessLog(path: $0) }
        let settings = options.settings
        let pools = UpstreamPools(settings: UpstreamPoolSettings(
            connectTimeout: .seconds(Int64(settings.connectTimeoutSeconds)),
            maxIdlePerAddress: settings.upstreamIdleConnections,
            idleTimeout: .seconds(Int64(settings.upstreamIdleTimeoutSeconds))))
        let proxySettings = ProxySettings(
            upstreams: options.upstreams, scheme: "https",
            proxyTimeout: .seconds(Int64(settings.proxyTimeoutSeconds)),
            requestHeaderTimeout: .seconds(Int64(min(settings.clientTimeoutSeconds, 20))),
            keepAliveTimeout: .seconds(Int64(settings.keepAliveTimeoutSeconds)),
            maxKeepAliveRequests: settings.maxKeepAliveRequests)

        var listeners: [any Channel] = []
        do {
            for address in options.listenAddresses {
                listeners.append(try await bind(address: address, port: options.httpsPort, role: "HTTPS",
                                                 flag: "--https-port") { channel in
                    try self.setUpHTTPS(channel, proxySettings: proxySettings, pools: pools, accessLog: accessLog)
                })
                listeners.append(try await bind(address: address, port: options.httpPort, role: "HTTP",
                                                 flag: "--http-port") { channel in
                    try self.setUpHTTP(channel, accessLog: accessLog)
                })
            }
        } catch {
            for listener in listeners { try? await listener.close() }
            accessLog?.close()
            throw error
        }
        logger.info("edge listening", metadata: [
            "https": "\(options.listenAddresses.map { "\($0):\(options.httpsPort)" })",
            "http": "\(options.listenAddresses.map { "\($0):\(options.httpPort)" })",
            "upstreams": "\(options.upstreams.map(\.description))",
        ])

        try? await gracefulShutdown()

        logger.info("edge stopping: no new connections, finishing requests in flight")
        for listener in listeners { try? await listener.close() }
        await connections.drain(timeout: drainTimeout)
        await pools.closeAll()
        accessLog?.close()
        logger.info("edge stopped")
    }

    private func bind(address: String, port: Int, role: String, flag: String,
                      initializer: @escaping @Sendable (any Channel) throws -> Void) async throws -> any Channel {
        let isIPv6 = IPAddress(address)?.bytes.count == 16
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
        if isIPv6 {
            bootstrap = bootstrap.serverChannelOption(ChannelOptions.socketOption(.ipv6_v6only), value: 1)
        }
        let connections = self.connections
        bootstrap = bootstrap.childChannelInitializer { channel in
            do {
                connections.add(channel)
                try initializer(channel)
                return channel.eventLoop.makeSucceededVoidFuture()
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }
        do {
            return try await bootstrap.bind(host: address, port: port).get()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw EdgeStartupError(PortInUseMessage.text(port: port, address: address, role: "\(role) (edge)",
                                                          flag: flag))
        } catch let error as IOError where error.errnoCode == EACCES {
            throw EdgeStartupError("""
                cannot listen on \(address):\(port) for \(role): permission denied. Ports below 1024 need \
                CAP_NET_BIND_SERVICE (see deploy/portal-edge.service) or choose another port with \(flag)
                """)
        } catch let error as IOError where error.errnoCode == EADDRNOTAVAIL {
            throw EdgeStartupError("cannot listen on \(address):\(port) for \(role): \(address) is not an address of this machine")
        } catch {
            throw EdgeStartupError("cannot listen on \(address):\(port) for \(role): \(error)")
        }
    }

    private func setUpHTTPS(_ channel: any Channel, proxySettings: ProxySettings, pools: UpstreamPools,
                            accessLog: AccessLog?) throws {
        let operations = channel.pipeline.syncOperations
        try operations.addHandler(NIOSSLServerHandler(context: options.tlsContext))
        try operations.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
        try operations.addHandler(ProxyHandler(
            settings: proxySettings, pool: pools.pool(for: channel.eventLoop), accessLog: accessLog,
            logger: logger, localPort: channel.localAddress?.port))
    }

    private func setUpHTTP(_ channel: any Channel, accessLog: AccessLog?) throws {
        let operations = channel.pipeline.syncOperations
        try operations.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
        try operations.addHandler(IdleCloseHandler(timeout: .seconds(Int64(options.settings.keepAliveTimeoutSeconds))))
        try operations.addHandler(RedirectToHTTPSHandler(
            httpsPort: options.httpsPort, fallbackHost: options.serverName,
            maxKeepAliveRequests: options.settings.maxKeepAliveRequests, accessLog: accessLog))
    }
}

/// The edge could not start; the message says what to change.
public struct EdgeStartupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) {
        self.description = description
    }
}

/// The open client connections, so a graceful stop can ask each to finish and wait for them.
final class ConnectionRegistry: Sendable {
    private let channels = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])

    func add(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        channels.withLockedValue { $0[key] = channel }
        channel.closeFuture.whenComplete { [weak self] _ in
            self?.channels.withLockedValue { _ = $0.removeValue(forKey: key) }
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
        for channel in channels.withLockedValue({ Array($0.values) }) {
            channel.close(promise: nil)
        }
    }
}

/// Closes a connection that has been idle for `timeout` (used on the redirect listener).
final class IdleCloseHandler: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny

    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) { arm(context) }
    func handlerRemoved(context: ChannelHandlerContext) { timer?.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        arm(context)
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        arm(context)
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext) {
        timer?.cancel()
        let channel = context.channel
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            channel.close(promise: nil)
        }
    }
}
