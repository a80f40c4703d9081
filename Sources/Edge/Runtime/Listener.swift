import PortalCore

/// An address and port the edge listens on, plain HTTP or HTTPS.
public struct Listener: Sendable, Hashable, CustomStringConvertible {
    public let address: String
    public let port: Int
    public let tls: Bool

    public var description: String {
        "\(tls ? "https" : "http")://\(HostAndPort(host: address, port: port))"
    }

    /// The listeners a configuration asks for: the explicit lists, or `listen` × the two ports.
    static func all(from edge: EdgeSettings) -> [Listener] {
        func parse(_ values: [String], tls: Bool) -> [Listener] {
            values.compactMap(HostAndPort.init).map { Listener(address: $0.host, port: $0.port, tls: tls) }
        }
        let http = edge.httpListeners.map { parse($0, tls: false) }
            ?? edge.listen.map { Listener(address: $0, port: edge.httpPort, tls: false) }
        let https = edge.httpsListeners.map { parse($0, tls: true) }
            ?? edge.listen.map { Listener(address: $0, port: edge.httpsPort, tls: true) }
        var seen: Set<Listener> = []
        return (https + http).filter { seen.insert($0).inserted }
    }
}
