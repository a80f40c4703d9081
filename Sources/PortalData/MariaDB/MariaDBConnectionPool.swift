#if MARIADB
import Foundation
import MariaDB
import NIOConcurrencyHelpers
import NIOPosix

/// Connection settings for a MariaDB/MySQL server, from a `mysql://` or `mariadb://` URL.
struct MariaDBServer: Sendable {
    let host: String
    let port: Int
    let user: String
    let password: String
    let database: String
    let requireTLS: Bool

    init?(url: URL) {
        guard let components = URLComponents(url: url, resolvingAgainstBaseURL: false), let host = components.host,
              let user = components.user, components.path.count > 1
        else { return nil }
        self.host = host
        port = components.port ?? 3306
        self.user = user
        password = components.password ?? ""
        database = String(components.path.dropFirst())
        let mode = components.queryItems?.first { ["tlsmode", "sslmode", "tls", "ssl"].contains($0.name) }?.value ?? ""
        requireTLS = ["require", "verify-ca", "verify-full", "true"].contains(mode)
    }
}

/// A connection handed to one borrower at a time.
///
/// `@unchecked Sendable`: the pool gives each one to a single borrower, whose blocking calls run
/// on one thread-pool thread at a time, and takes it back only after they have returned.
final class PooledConnection: @unchecked Sendable {
    private let connection: MariaDBConnection
    /// Serializes calls: statements of one transaction may be issued concurrently.
    private let lock = NIOLock()
    let opened: Date
    var lastUsed: Date

    /// Runs `body` with the connection, one caller at a time.
    func use<T>(_ body: (MariaDBConnection) throws -> T) rethrows -> T {
        try lock.withLock { try body(connection) }
    }

    func close() {
        lock.withLock { connection.close() }
    }

    init(_ connection: MariaDBConnection) {
        self.connection = connection
        opened = Date()
        lastUsed = opened
    }
}

/// The pool of MariaDB connections (the seed's SQLAlchemy pool): at most `pool_size +
/// max_overflow` open, `pool_size` kept when idle, a waiter gives up after `pool_timeout`,
/// connections older than `pool_recycle` are replaced, and one idle for a while is pinged
/// before use (`pool_pre_ping`). Blocking connector calls run on NIO's thread pool.
actor MariaDBConnectionPool {
    private let server: MariaDBServer
    private let keep: Int
    private let maximum: Int
    private let timeout: Duration
    private let recycle: TimeInterval
    private var idle: [PooledConnection] = []
    private var open = 0
    /// What a waiter is woken with: a connection, a free slot to open one in, or nothing.
    private enum Wake {
        case connection(PooledConnection)
        case slot
        case none
    }

    private var waiters: [(id: UInt64, continuation: CheckedContinuation<Wake, Never>)] = []
    private var nextWaiter: UInt64 = 0
    private var closed = false

    /// Idle time after which a connection is pinged before it is handed out.
    static let pingAfter: TimeInterval = 5

    init(server: MariaDBServer, size: Int, overflow: Int, timeoutSeconds: Int, recycleSeconds: Int) {
        self.server = server
        keep = max(1, size)
        maximum = max(1, size + overflow)
        timeout = .seconds(timeoutSeconds)
        recycle = recycleSeconds > 0 ? TimeInterval(recycleSeconds) : .infinity
    }

    /// Runs `body` with a connection of the pool, off the event loops.
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (MariaDBConnection) throws -> T) async throws -> T {
        let pooled = try await acquire()
        do {
            let value = try await NIOThreadPool.singleton.runIfActive { try pooled.use(body) }
            release(pooled, broken: false)
            return value
        } catch {
            release(pooled, broken: (error as? MariaDBError)?.isConnectionFailure ?? false)
            throw error
        }
    }

    /// Takes a connection for a transaction; give it back with `release`.
    func acquire() async throws -> PooledConnection {
        guard !closed else { throw MariaDBError(code: 2006, sqlState: "08S01", message: "the connection pool is shut down") }
        while let candidate = idle.popLast() {
            let now = Date()
            if now.timeIntervalSince(candidate.opened) >= recycle {
                await discard(candidate)
                continue
            }
            if now.timeIntervalSince(candidate.lastUsed) >= Self.pingAfter {
                let alive = (try? await NIOThreadPool.singleton.runIfActive { candidate.use { $0.ping() } }) ?? false
                guard alive else {
                    await discard(candidate)
                    continue
                }
            }
            return candidate
        }
        if open < maximum {
            open += 1
            let server = self.server
            do {
                return try await NIOThreadPool.singleton.runIfActive {
                    PooledConnection(try MariaDBConnection(host: server.host, port: server.port, user: server.user,
                                                           password: server.password, database: server.database,
                                                           requireTLS: server.requireTLS))
                }
            } catch {
                slotFreed()
                throw error
            }
        }
        return try await wait()
    }

    private func wait() async throws -> PooledConnection {
        nextWaiter += 1
        let id = nextWaiter
        let timeout = self.timeout
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.expire(id)
        }
        let wake = await withCheckedContinuation { continuation in
            waiters.append((id, continuation))
        }
        timer.cancel()
        switch wake {
        case .connection(let pooled): return pooled
        case .slot: return try await acquire()
        case .none:
            throw MariaDBError(code: 0, sqlState: "HY000",
                               message: closed ? "the connection pool is shut down" : "no database connection became free within \(timeout)")
        }
    }

    /// A connection closed for good: its place may be taken by the first waiter.
    private func slotFreed() {
        open -= 1
        if !waiters.isEmpty { waiters.removeFirst().continuation.resume(returning: .slot) }
    }

    private func expire(_ id: UInt64) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(returning: .none)
    }

    /// Gives a connection back; a broken one is closed and its place freed.
    func release(_ pooled: PooledConnection, broken: Bool) {
        pooled.lastUsed = Date()
        if broken || closed {
            pooled.close()
            slotFreed()
            return
        }
        if !waiters.isEmpty {
            waiters.removeFirst().continuation.resume(returning: .connection(pooled))
            return
        }
        if idle.count >= keep {
            pooled.close()
            open -= 1
            return
        }
        idle.append(pooled)
    }

    private func discard(_ pooled: PooledConnection) async {
        slotFreed()
        _ = try? await NIOThreadPool.singleton.runIfActive { pooled.close() }
    }

    func shutdown() {
        closed = true
        for pooled in idle { pooled.close() }
        open -= idle.count
        idle = []
        for waiter in waiters { waiter.continuation.resume(returning: .none) }
        waiters = []
    }
}
#endif
