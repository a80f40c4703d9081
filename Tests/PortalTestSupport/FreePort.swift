import Foundation
import NIOConcurrencyHelpers

/// Ports nothing listens on, found by letting the kernel pick one on 127.0.0.1. A port is
/// handed out once per test process: the kernel often offers a just-closed port again, and
/// tests run in parallel.
public enum FreePort {
    private static let given = NIOLockedValueBox<Set<Int>>([])

    public static func allocate() throws -> Int {
        for _ in 0..<50 {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard descriptor >= 0 else { throw FreePortError() }
            let port = try bindLoopback(descriptor)
            close(descriptor)
            if given.withLockedValue({ $0.insert(port).inserted }) { return port }
        }
        throw FreePortError()
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
