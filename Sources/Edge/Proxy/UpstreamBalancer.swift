import NIOConcurrencyHelpers
import NIOCore
import PortalCore

/// Chooses the upstream address for each request of one route: round-robin over the route's
/// addresses, one rotation shared by every worker thread (as nginx and Apache balance each
/// upstream group on its own), passing over for `failTimeout` an address whose connection
/// just failed (nginx's default `max_fails=1 fail_timeout=10s`).
final class UpstreamBalancer: Sendable {
    let addresses: [HostAndPort]
    private let state = NIOLockedValueBox(State())
    /// How long an address that refused a connection is passed over.
    static let failTimeout = TimeAmount.seconds(10)

    private struct State {
        var next = 0
        var downUntil: [HostAndPort: NIODeadline] = [:]
    }

    init(addresses: [HostAndPort]) {
        self.addresses = addresses
    }

    /// The next address to try, leaving out those in `tried` (this request failed on them);
    /// nil when none is left. Addresses that failed lately come only when all others did too.
    func next(excluding tried: [HostAndPort] = [], now: NIODeadline = .now()) -> HostAndPort? {
        guard let only = addresses.first else { return nil }
        if addresses.count == 1 { return tried.contains(only) ? nil : only }
        return state.withLockedValue { state in
            var resting: HostAndPort?
            for _ in 0..<addresses.count {
                let address = addresses[state.next % addresses.count]
                state.next &+= 1
                if tried.contains(address) { continue }
                if let until = state.downUntil[address] {
                    if until > now {
                        resting = resting ?? address
                        continue
                    }
                    state.downUntil[address] = nil
                }
                return address
            }
            return resting
        }
    }

    /// A connection to `address` failed: pass it over for a while (only with others to use).
    func markFailed(_ address: HostAndPort, now: NIODeadline = .now()) {
        guard addresses.count > 1 else { return }
        state.withLockedValue { $0.downUntil[address] = now + Self.failTimeout }
    }
}
