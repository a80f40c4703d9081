import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// Counters the status page reads: requests and bytes, connections, and each upstream's health.
/// Cheap to update from every event loop: atomics, and one short lock per proxied response.
final class EdgeStats: Sendable {
    let started = Date()
    private let requests = Atomic<Int>(0)
    private let bytesOut = Atomic<Int>(0)
    private let bytesIn = Atomic<Int>(0)
    private let busy = Atomic<Int>(0)
    private let status1xx = Atomic<Int>(0)
    private let status2xx = Atomic<Int>(0)
    private let status3xx = Atomic<Int>(0)
    private let status4xx = Atomic<Int>(0)
    private let status5xx = Atomic<Int>(0)
    private let upstreams = Mutex<[String: UpstreamHealth]>([:])

    struct UpstreamHealth: Sendable {
        var requests = 0
        var failures = 0
        var timeouts = 0
        /// Exponentially weighted average response time (the head's arrival), milliseconds.
        var averageMilliseconds: Double = 0
        var lastFailure: Date?
        var lastSuccess: Date?
    }

    /// A connection started working on a request (it had none in progress).
    func connectionBecameBusy() { busy.add(1, ordering: .relaxed) }

    /// A connection has no request in progress any more.
    func connectionBecameIdle() { busy.subtract(1, ordering: .relaxed) }

    /// A client went away before its answer was complete: its bytes count, its request does not
    /// (as in the access log and the metrics).
    func exchangeAborted(bytesSent: Int, bytesReceived: Int) {
        bytesOut.add(bytesSent, ordering: .relaxed)
        bytesIn.add(bytesReceived, ordering: .relaxed)
    }

    /// An answered request, as logged.
    func exchangeFinished(status: Int, bytesSent: Int, bytesReceived: Int) {
        requests.add(1, ordering: .relaxed)
        bytesOut.add(bytesSent, ordering: .relaxed)
        bytesIn.add(bytesReceived, ordering: .relaxed)
        switch status / 100 {
        case 1: status1xx.add(1, ordering: .relaxed)
        case 2: status2xx.add(1, ordering: .relaxed)
        case 3: status3xx.add(1, ordering: .relaxed)
        case 4: status4xx.add(1, ordering: .relaxed)
        default: status5xx.add(1, ordering: .relaxed)
        }
    }

    func upstreamAnswered(_ address: String, milliseconds: Double) {
        upstreams.withLock { table in
            var health = table[address, default: UpstreamHealth()]
            health.requests += 1
            health.averageMilliseconds = health.requests == 1 ? milliseconds : health.averageMilliseconds * 0.9 + milliseconds * 0.1
            health.lastSuccess = Date()
            table[address] = health
        }
    }

    func upstreamFailed(_ address: String, timeout: Bool) {
        upstreams.withLock { table in
            var health = table[address, default: UpstreamHealth()]
            health.failures += 1
            if timeout { health.timeouts += 1 }
            health.lastFailure = Date()
            table[address] = health
        }
    }

    struct Snapshot: Sendable {
        var uptime: TimeInterval
        var requests: Int
        var bytesOut: Int
        var bytesIn: Int
        var busyConnections: Int
        var openConnections: Int
        var statusClasses: [Int]
        var upstreams: [(String, UpstreamHealth)]
    }

    /// `configuredUpstreams`: the addresses the running configuration routes to. Each is listed
    /// (as `unknown` until its first request); an address a reload removed is no longer shown.
    func snapshot(openConnections: Int, configuredUpstreams: Set<String>) -> Snapshot {
        let upstreams = upstreams.withLock { table in
            configuredUpstreams.map { ($0, table[$0] ?? UpstreamHealth()) }
        }
        return Snapshot(uptime: Date().timeIntervalSince(started), requests: requests.load(ordering: .relaxed),
                 bytesOut: bytesOut.load(ordering: .relaxed), bytesIn: bytesIn.load(ordering: .relaxed),
                 busyConnections: max(busy.load(ordering: .relaxed), 0), openConnections: openConnections,
                 statusClasses: [0, status1xx.load(ordering: .relaxed), status2xx.load(ordering: .relaxed),
                                 status3xx.load(ordering: .relaxed), status4xx.load(ordering: .relaxed),
                                 status5xx.load(ordering: .relaxed)],
                 upstreams: upstreams.sorted { $0.0 < $1.0 })
    }
}
