import Edge
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
                guard let upstream = HostAndPort(text), checked.insert(upstream).inserted,
                      IPAddress(upstream.host) != nil
                else { continue }
                if SocketProbe.accepts(address: upstream.host, port: upstream.port) { continue }
                var message = "upstream \(upstream) (site '\(site)', route \(path)) refuses connections"
                if upstream != appAddress, IPAddress(upstream.host)?.isLoopback == true {
                    message += "; the app is configured on \(appAddress) (app.port): if this route is meant for the app, point it at \(appAddress)"
                } else {
                    message += "; start it, or fix the address"
                }
                warnings.append(message)
            }
        }
        return warnings
    }
}
