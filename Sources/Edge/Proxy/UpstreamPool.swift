import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import PortalCore

/// Settings shared by every upstream pool.
struct UpstreamPoolSettings: Sendable, Equatable {
    var connectTimeout: TimeAmount
    var maxIdlePerAddress: Int
    var idleTimeout: TimeAmount
    /// Connections per address, busy or idle; 0 means no limit.
    var maxPerAddress: Int = 0
    /// How long a request waits for a connection when `maxPerAddress` is reached.
    var acquireTimeout: TimeAmount = .seconds(300)

    init(_ edge: EdgeSettings) {
        self.connectTimeout = .seconds(Int64(edge.connectTimeoutSeconds))
        self.maxIdlePerAddress = edge.upstreamIdleConnections
        self.idleTimeout = .seconds(Int64(edge.upstreamIdleTimeoutSeconds))
        self.maxPerAddress = edge.upstreamMaxConnections
        self.acquireTimeout = .seconds(Int64(edge.poolAcquireTimeoutSeconds))
    }
}

/// No connection to the upstream became free within the acquire timeout.
struct UpstreamPoolError: Error, CustomStringConvertible {
    let description: String
}

/// Keep-alive connections to upstreams for one event loop. Every method runs on that loop,
/// so a client connection and its upstream connection share a thread and need no locks.
final class UpstreamPool {
    private let eventLoop: any EventLoop
    private var settings: UpstreamPoolSettings
    /// The runtime generation `settings` came from; a reload brings a newer one.
    private(set) var settingsGeneration: Int
    private var idle: [HostAndPort: [IdleEntry]] = [:]
    /// Open or opening connections per address, busy or idle.
    private var open: [HostAndPort: Int] = [:]
    private var waiters: [HostAndPort: [Waiter]] = [:]
    private var nextWaiterID = 0

    private struct Waiter {
        let id: Int
        let completion: (Result<UpstreamConnection, any Error>) -> Void
        let timeout: Scheduled<Void>
    }

    private struct IdleEntry {
        let connection: UpstreamConnection
        let idleSince: NIODeadline
    }
    /// Closes connections idle longer than the idle timeout; runs only while some are idle.
    private var sweeper: Scheduled<Void>?
    /// The address last named by `text(of:)`, with its text.
    private var lastText: (address: HostAndPort, text: String)?

    /// `address` as logs and statistics write it; the last one is kept, so the requests of a
    /// busy route do not format the same address again and again.
    func text(of address: HostAndPort) -> String {
        if let lastText, lastText.address == address { return lastText.text }
        let text = address.description
        lastText = (address, text)
        return text
    }

    init(eventLoop: any EventLoop, settings: UpstreamPoolSettings, generation: Int = 0) {
        self.eventLoop = eventLoop
        self.settings = settings
        self.settingsGeneration = generation
    }

    /// Takes the pool settings of a reloaded configuration; connections and waiters already
    /// there keep going, the next acquisitions follow the new limits.
    func adopt(_ settings: UpstreamPoolSettings, generation: Int) {
        guard generation > settingsGeneration else { return }
        self.settings = settings
        settingsGeneration = generation
    }

    /// Hands out an idle connection to `address`, or opens a new one when `allowIdle` is false or none is idle.
    func acquire(
        _ address: HostAndPort,
        allowIdle: Bool = true,
        completion: @escaping (Result<UpstreamConnection, any Error>) -> Void
    ) {
        eventLoop.preconditionInEventLoop()
        if allowIdle, let connection = takeIdle(address) {
            completion(.success(connection))
            return
        }
        if settings.maxPerAddress > 0, open[address, default: 0] >= settings.maxPerAddress {
            if let connection = takeIdle(address) {
                completion(.success(connection))
                return
            }
            enqueueWaiter(address, completion: completion)
            return
        }
        connect(address, completion: completion)
    }

    private func connect(_ address: HostAndPort, completion: @escaping (Result<UpstreamConnection, any Error>) -> Void) {
        open[address, default: 0] += 1
        ClientBootstrap(group: eventLoop)
            .connectTimeout(settings.connectTimeout)
            // ClientBootstrap turns TCP_NODELAY on by itself.
            .channelInitializer { channel in
                do {
                    // Request heads come from NIO's own parser, so their fields are already valid. Bytes left
                    // in the decoder when it is removed (after a WebSocket upgrade) go on to the tunnel.
                    // Interim answers (103 Early Hints) are handed on, so the proxy can pass them to the client.
                    try channel.pipeline.syncOperations.addHandlers([
                        HTTPRequestEncoder(),
                        ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes,
                                                                 informationalResponseStrategy: .forward)),
                    ])
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler())
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .connect(host: address.host, port: address.port)
            .assumeIsolated()
            .whenComplete { [weak self] result in
                switch result {
                case .success(let channel):
                    channel.closeFuture.assumeIsolated().whenComplete { _ in self?.connectionClosed(address) }
                    do {
                        let handler = try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
                        completion(.success(UpstreamConnection(channel: channel, address: address, handler: handler)))
                    } catch {
                        channel.close(promise: nil)
                        completion(.failure(error))
                    }
                case .failure(let error):
                    self?.connectionClosed(address)
                    completion(.failure(error))
                }
            }
    }

    private func enqueueWaiter(_ address: HostAndPort,
                               completion: @escaping (Result<UpstreamConnection, any Error>) -> Void) {
        nextWaiterID += 1
        let id = nextWaiterID
        let timeoutAmount = settings.acquireTimeout
        let timeout = eventLoop.assumeIsolated().scheduleTask(in: timeoutAmount) { [weak self] in
            guard let self, var queue = self.waiters[address],
                  let index = queue.firstIndex(where: { $0.id == id }) else { return }
            let waiter = queue.remove(at: index)
            self.waiters[address] = queue.isEmpty ? nil : queue
            waiter.completion(.failure(UpstreamPoolError(
                description: "all \(self.settings.maxPerAddress) connections to \(address) stayed busy for \(timeoutAmount.nanoseconds / 1_000_000_000) s")))
        }
        waiters[address, default: []].append(Waiter(id: id, completion: completion, timeout: timeout))
    }

    private func popWaiter(_ address: HostAndPort) -> Waiter? {
        guard var queue = waiters[address], !queue.isEmpty else { return nil }
        let waiter = queue.removeFirst()
        waiters[address] = queue.isEmpty ? nil : queue
        waiter.timeout.cancel()
        return waiter
    }

    /// A connection to `address` closed: count it out and let a waiting request open a new one.
    private func connectionClosed(_ address: HostAndPort) {
        open[address, default: 1] -= 1
        if open[address] == 0 { open[address] = nil }
        if let waiter = popWaiter(address) {
            connect(address, completion: waiter.completion)
        }
    }

    /// Returns a connection whose last exchange finished cleanly.
    func release(_ connection: UpstreamConnection) {
        eventLoop.preconditionInEventLoop()
        connection.handler.owner = nil
        if connection.channel.isActive, let waiter = popWaiter(connection.address) {
            connection.setAutoRead(true)
            waiter.completion(.success(connection))
            return
        }
        guard connection.channel.isActive, settings.maxIdlePerAddress > 0 else {
            connection.close()
            return
        }
        // In place: copying the list out and back would copy it on every release.
        if idle[connection.address, default: []].count >= settings.maxIdlePerAddress,
           let oldest = idle[connection.address]?.removeFirst() {
            oldest.connection.close()
        }
        let channel = connection.channel
        idle[connection.address, default: []].append(IdleEntry(connection: connection, idleSince: .now()))
        if sweeper == nil { scheduleSweep() }
        connection.handler.onIdleClose = { [weak self] in
            self?.remove(channel: channel, address: connection.address)
        }
        connection.setAutoRead(true)
    }

    private func scheduleSweep() {
        let interval = TimeAmount.nanoseconds(max(settings.idleTimeout.nanoseconds / 2, 1_000_000_000))
        sweeper = eventLoop.assumeIsolated().scheduleTask(in: interval) { [weak self] in
            self?.sweep()
        }
    }

    private func sweep() {
        sweeper = nil
        let cutoff = NIODeadline.now() - settings.idleTimeout
        for (address, entries) in idle {
            let (stale, fresh) = (entries.filter { $0.idleSince <= cutoff }, entries.filter { $0.idleSince > cutoff })
            idle[address] = fresh
            for entry in stale {
                entry.connection.handler.onIdleClose = nil
                entry.connection.close()
            }
        }
        if idle.values.contains(where: { !$0.isEmpty }) { scheduleSweep() }
    }

    /// Closes every idle connection (on shutdown).
    func closeAll() {
        let all = idle.values.flatMap { $0 }
        idle.removeAll()
        sweeper?.cancel()
        sweeper = nil
        for entry in all {
            entry.connection.close()
        }
    }

    private func takeIdle(_ address: HostAndPort) -> UpstreamConnection? {
        let cutoff = NIODeadline.now() - settings.idleTimeout
        while let entry = idle[address]?.popLast() {
            entry.connection.handler.onIdleClose = nil
            if entry.connection.channel.isActive && entry.idleSince > cutoff {
                return entry.connection
            }
            entry.connection.close()
        }
        return nil
    }

    private func remove(channel: any Channel, address: HostAndPort) {
        if let index = idle[address]?.firstIndex(where: { $0.connection.channel === channel }) {
            idle[address]?.remove(at: index)
        }
    }
}

/// One `UpstreamPool` per event loop, created on first use on that loop.
final class UpstreamPools: Sendable {
    private let settings: UpstreamPoolSettings
    private let pools = NIOLockedValueBox<[ObjectIdentifier: NIOLoopBound<UpstreamPool>]>([:])

    init(settings: UpstreamPoolSettings) {
        self.settings = settings
    }

    /// The pool of `eventLoop`; must be called on that loop.
    func pool(for eventLoop: any EventLoop) -> UpstreamPool {
        let key = ObjectIdentifier(eventLoop)
        return pools.withLockedValue { pools in
            if let existing = pools[key] { return existing.value }
            let pool = UpstreamPool(eventLoop: eventLoop, settings: settings)
            pools[key] = NIOLoopBound(pool, eventLoop: eventLoop)
            return pool
        }
    }

    /// Closes the idle connections of every pool, each on its own loop.
    func closeAll() async {
        let bound = pools.withLockedValue { Array($0.values) }
        for pool in bound {
            try? await pool.eventLoop.submit { pool.value.closeAll() }.get()
        }
    }
}
