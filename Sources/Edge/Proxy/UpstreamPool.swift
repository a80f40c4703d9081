import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import PortalCore

/// Settings shared by every upstream pool.
struct UpstreamPoolSettings: Sendable {
    var connectTimeout: TimeAmount
    var maxIdlePerAddress: Int
    var idleTimeout: TimeAmount
}

/// Keep-alive connections to upstreams for one event loop. Every method runs on that loop,
/// so a client connection and its upstream connection share a thread and need no locks.
final class UpstreamPool {
    private let eventLoop: any EventLoop
    private let settings: UpstreamPoolSettings
    private var idle: [HostAndPort: [IdleEntry]] = [:]
    private var nextAddressIndex = 0

    private struct IdleEntry {
        let connection: UpstreamConnection
        let expiry: Scheduled<Void>
    }

    init(eventLoop: any EventLoop, settings: UpstreamPoolSettings) {
        self.eventLoop = eventLoop
        self.settings = settings
    }

    /// Picks the next address round-robin.
    func nextAddress(from addresses: [HostAndPort]) -> HostAndPort? {
        guard !addresses.isEmpty else { return nil }
        let address = addresses[nextAddressIndex % addresses.count]
        nextAddressIndex &+= 1
        return address
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
        ClientBootstrap(group: eventLoop)
            .connectTimeout(settings.connectTimeout)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                do {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(leftOverBytesStrategy: .fireError)
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler())
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .connect(host: address.host, port: address.port)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    do {
                        let handler = try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
                        completion(.success(UpstreamConnection(channel: channel, address: address, handler: handler)))
                    } catch {
                        channel.close(promise: nil)
                        completion(.failure(error))
                    }
                case .failure(let error):
                    completion(.failure(error))
                }
            }
    }

    /// Returns a connection whose last exchange finished cleanly.
    func release(_ connection: UpstreamConnection) {
        eventLoop.preconditionInEventLoop()
        connection.handler.owner = nil
        guard connection.channel.isActive, settings.maxIdlePerAddress > 0 else {
            connection.close()
            return
        }
        var entries = idle[connection.address, default: []]
        if entries.count >= settings.maxIdlePerAddress {
            let oldest = entries.removeFirst()
            oldest.expiry.cancel()
            oldest.connection.close()
        }
        let channel = connection.channel
        let expiry = eventLoop.assumeIsolated().scheduleTask(in: settings.idleTimeout) {
            channel.close(promise: nil)
        }
        entries.append(IdleEntry(connection: connection, expiry: expiry))
        idle[connection.address] = entries
        connection.handler.onIdleClose = { [weak self] in
            self?.remove(channel: channel, address: connection.address)
        }
        connection.setAutoRead(true)
    }

    /// Closes every idle connection (on shutdown).
    func closeAll() {
        let all = idle.values.flatMap { $0 }
        idle.removeAll()
        for entry in all {
            entry.expiry.cancel()
            entry.connection.close()
        }
    }

    private func takeIdle(_ address: HostAndPort) -> UpstreamConnection? {
        while var entries = idle[address], let entry = entries.popLast() {
            idle[address] = entries.isEmpty ? nil : entries
            entry.expiry.cancel()
            entry.connection.handler.onIdleClose = nil
            if entry.connection.channel.isActive {
                return entry.connection
            }
        }
        return nil
    }

    private func remove(channel: any Channel, address: HostAndPort) {
        guard var entries = idle[address] else { return }
        if let index = entries.firstIndex(where: { $0.connection.channel === channel }) {
            entries[index].expiry.cancel()
            entries.remove(at: index)
        }
        idle[address] = entries.isEmpty ? nil : entries
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
