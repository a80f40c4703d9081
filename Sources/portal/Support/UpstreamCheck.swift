import Edge
import Foundation
import PortalCore

/// Warns about upstreams that refuse connections at check time: the seed's own bug, a
/// `ProxyPass` to port 5000 while the app listens on 9000 (its section 7).
enum UpstreamCheck {
    static func warnings(_ configuration: PortalConfiguration) -> [String] {
        let appAddress = HostAndPort(host: SocketProbe.connectAddress(for: configuration.app.host),
                                     port: configuration.app.port)
        var warnings: [String] = []
        var checked: Set<HostAndPort> = []
        let sites = configuration.edge.sites.isEmpty
            ? [("default", "/", configuration.edge.upstreams.isEmpty ? [appAddress.description] : configuration.edge.upstreams)]
            : configuration.edge.sites.flatMap { site in site.routes.map { (site.name, $0.path, $0.upstreams) } }
        for (site, path, upstreams) in sites {
            for text in upstreams {
                guard let upstream = HostAndPort(text), checked.insert(upstream).inserted else { continue }
                var addresses = [upstream.host]
                if IPAddress(upstream.host) == nil {
                    switch resolve(upstream.host) {
                    case .success(let resolved):
                        addresses = resolved
                    case .failure(let reason):
                        warnings.append("upstream \(upstream) (site '\(site)', route \(path)): the name does not resolve "
                                        + "(\(reason)); every request to it would get 502. Fix the name or use an IP address")
                        continue
                    }
                }
                // The edge tries each address of a name (`localhost` is ::1, then 127.0.0.1).
                if addresses.contains(where: { SocketProbe.accepts(address: $0, port: upstream.port) }) { continue }
                var message = "upstream \(upstream) (site '\(site)', route \(path)) refuses connections"
                if upstream != appAddress, IPAddress(upstream.host)?.isLoopback == true {
                    if SocketProbe.accepts(address: appAddress.host, port: appAddress.port) {
                        message += "; the app is listening on \(appAddress) (app.port): if this route is meant for the app, point it at \(appAddress)"
                    } else {
                        message += "; start the service behind it, or fix the address. If the route is meant for the "
                            + "portal app: nothing listens on the app's address \(appAddress) (app.port) either; start the app "
                            + "(portal app, or portal up), then point the route at the port it listens on"
                    }
                } else {
                    message += "; start it, or fix the address"
                }
                warnings.append(message)
            }
        }
        return warnings
    }

    struct ResolutionFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// The addresses `name` resolves to, as text (the check may block: it is a command).
    static func resolve(_ name: String) -> Result<[String], ResolutionFailure> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(name, nil, &hints, &list)
        defer { if let list { freeaddrinfo(list) } }
        guard status == 0, let first = list else {
            return .failure(ResolutionFailure(description: status == 0 ? "no address" : String(cString: gai_strerror(status))))
        }
        var addresses: [String] = []
        var current: UnsafeMutablePointer<addrinfo>? = first
        while let entry = current {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if let address = entry.pointee.ai_addr,
               getnameinfo(address, entry.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !addresses.contains(text) { addresses.append(text) }
            }
            current = entry.pointee.ai_next
        }
        return addresses.isEmpty ? .failure(ResolutionFailure(description: "no usable address")) : .success(addresses)
    }
}
