import Foundation
import PortalCore

/// Quick checks on local TCP ports, made by the supervisor outside any event loop.
enum SocketProbe {
    /// True when `port` can be bound on `address` right now.
    static func canBind(address: String, port: Int) -> (free: Bool, errno: Int32) {
        guard let ip = IPAddress(address) else { return (false, EINVAL) }
        return withSocket(for: ip) { descriptor, family in
            var one: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if family == AF_INET6 {
                setsockopt(descriptor, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            let result = withSocketAddress(ip, port: port) { pointer, length in bind(descriptor, pointer, length) }
            return result == 0 ? (true, 0) : (false, errno)
        } ?? (false, errno)
    }

    /// True when something accepts TCP connections on `address:port`.
    static func accepts(address: String, port: Int) -> Bool {
        guard let ip = IPAddress(address) else { return false }
        return withSocket(for: ip) { descriptor, _ in
            withSocketAddress(ip, port: port) { pointer, length in connect(descriptor, pointer, length) } == 0
        } ?? false
    }

    /// Runs `body` with a new TCP socket of the address's family, closed afterwards; nil when none can be made.
    private static func withSocket<Result>(for ip: IPAddress, _ body: (Int32, Int32) -> Result) -> Result? {
        let family = ip.bytes.count == 4 ? AF_INET : AF_INET6
        let descriptor = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        return body(descriptor, family)
    }

    private static func withSocketAddress(
        _ ip: IPAddress, port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32
    ) -> Int32 {
        if ip.bytes.count == 4 {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            withUnsafeMutableBytes(of: &address.sin_addr) { $0.copyBytes(from: ip.bytes) }
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = in_port_t(UInt16(port).bigEndian)
        withUnsafeMutableBytes(of: &address.sin6_addr) { $0.copyBytes(from: ip.bytes) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
    }

    /// An address to connect to for a listener bound on `address` (loopback for a wildcard).
    static func connectAddress(for address: String) -> String {
        guard let ip = IPAddress(address) else { return "127.0.0.1" }
        if ip.isUnspecified { return ip.bytes.count == 4 ? "127.0.0.1" : "::1" }
        return address
    }
}
