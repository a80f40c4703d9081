import Foundation
import NIOConcurrencyHelpers

/// Ports nothing listens on, for servers a test starts as separate processes (`portal up`).
/// They are drawn below the kernel's ephemeral range: a port the kernel picks could be picked
/// again for another test's port-0 listener or outgoing connection before the process binds it.
/// A port is handed out once per test process, as tests run in parallel.
public enum FreePort {
    private static let given = NIOLockedValueBox<Set<Int>>([])

    public static func allocate() throws -> Int {
        let candidates = belowEphemeralRange()
        for _ in 0..<200 {
            guard let port = candidates.randomElement() else { break }
            guard isFree(port), given.withLockedValue({ $0.insert(port).inserted }) else { continue }
            return port
        }
        // No room below the ephemeral range on this machine: let the kernel pick.
        for _ in 0..<50 {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard descriptor >= 0 else { throw FreePortError() }
            let port = try bindLoopback(descriptor)
            close(descriptor)
            if given.withLockedValue({ $0.insert(port).inserted }) { return port }
        }
        throw FreePortError()
    }

    /// Ports from 10000 up to the start of the kernel's ephemeral range (32768 on Linux by default).
    private static func belowEphemeralRange() -> Range<Int> {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let low = text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32768
        return 10000..<max(10000, low)
    }

    /// Whether `port` can be bound on every IPv4 address now.
    private static func isFree(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = INADDR_ANY
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// Binds `descriptor` to 127.0.0.1 on a port the kernel picks, and returns that port.
    public static func bindLoopback(_ descriptor: Int32) throws -> Int {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw FreePortError() }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { throw FreePortError() }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Several distinct free ports.
    public static func allocate(count: Int) throws -> [Int] {
        var ports: Set<Int> = []
        var attempts = 0
        while ports.count < count && attempts < count * 10 {
            ports.insert(try allocate())
            attempts += 1
        }
        return Array(ports)
    }
}

public struct FreePortError: Error {}

/// A loopback port held by a bound, non-listening socket: connections to it are refused, and
/// no other socket (a test upstream binding port 0, say) can be given it while it is held.
public final class RefusingPort: Sendable {
    public let port: Int
    private let descriptor: Int32

    public init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw FreePortError() }
        do {
            self.port = try FreePort.bindLoopback(descriptor)
        } catch {
            close(descriptor)
            throw error
        }
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }
}
