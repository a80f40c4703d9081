/// The keys of the configuration file, their types, defaults and rules.
///
/// Every key here is documented in `docs/configuration.md`; the environment variable
/// for a key is `PORTAL_` + its path in capitals (`edge.http_port` → `PORTAL_EDGE_HTTP_PORT`).
enum ConfigurationSchema {
    static let portRule = "a port number from 1 to 65535"
    static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    static func read(_ top: inout ConfigSection) -> PortalConfiguration {
        var configuration = PortalConfiguration()
        configuration.dataDirectory = top.read("data_dir", default: configuration.dataDirectory,
                                               rule: "a folder path", isValid: { !$0.isEmpty })

        var app = top.section("app")
        configuration.app = readApp(&app)
        app.finish()

        var edge = top.section("edge")
        configuration.edge = readEdge(&edge)
        edge.finish()

        var database = top.section("database")
        configuration.database.url = database.readOptional(
            "url", rule: "a database URL such as sqlite:///var/lib/portal/portal.sqlite", isValid: isDatabaseURL)
        database.finish()

        var log = top.section("log")
        configuration.log.level = log.read("level", default: configuration.log.level,
                                           rule: "one of \(logLevels.joined(separator: ", "))",
                                           isValid: { logLevels.contains($0) })
        log.finish()
        return configuration
    }

    private static func readApp(_ section: inout ConfigSection) -> AppSettings {
        var app = AppSettings()
        app.host = section.read("host", default: app.host, rule: "an IP address such as 127.0.0.1",
                                isValid: { IPAddress($0) != nil })
        app.port = section.read("port", default: app.port, rule: portRule, isValid: isPort)
        app.allowPublicBind = section.read("allow_public_bind", default: app.allowPublicBind)
        app.trustedProxies = section.read(
            "trusted_proxies", default: app.trustedProxies,
            rule: "a list of IP addresses or CIDR ranges, e.g. [\"127.0.0.1\", \"10.0.0.0/8\"]",
            isValid: { $0.allSatisfy { IPRange($0) != nil } })
        app.trustedProxyCount = section.read("trusted_proxy_count", default: app.trustedProxyCount,
                                             rule: "an integer from 0 to 16", isValid: { (0...16).contains($0) })
        app.sessionIdleMinutes = section.read("session_idle_minutes", default: app.sessionIdleMinutes,
                                              rule: "a number of minutes from 1 to 10080",
                                              isValid: { (1...10_080).contains($0) })
        app.sessionLifetimeHours = section.read("session_lifetime_hours", default: app.sessionLifetimeHours,
                                                rule: "a number of hours from 1 to 8760",
                                                isValid: { (1...8_760).contains($0) })
        return app
    }

    private static func readEdge(_ section: inout ConfigSection) -> EdgeSettings {
        var edge = EdgeSettings()
        edge.listen = section.read("listen", default: edge.listen,
                                   rule: "a non-empty list of IP addresses, e.g. [\"0.0.0.0\", \"::\"]",
                                   isValid: { !$0.isEmpty && $0.allSatisfy { IPAddress($0) != nil } })
        edge.httpPort = section.read("http_port", default: edge.httpPort, rule: portRule, isValid: isPort)
        edge.httpsPort = section.read("https_port", default: edge.httpsPort, rule: portRule, isValid: isPort)
        edge.serverName = section.read("server_name", default: edge.serverName, rule: "a host name",
                                       isValid: isHostName)
        edge.certificateFile = section.readOptional("certificate_file", rule: "a file path", isValid: { !$0.isEmpty })
        edge.keyFile = section.readOptional("key_file", rule: "a file path", isValid: { !$0.isEmpty })
        edge.upstreams = section.read("upstreams", default: edge.upstreams,
                                      rule: "a list of host:port addresses, e.g. [\"127.0.0.1:9000\"]",
                                      isValid: { $0.allSatisfy { HostAndPort($0) != nil } })
        edge.proxyTimeoutSeconds = section.read("proxy_timeout", default: edge.proxyTimeoutSeconds,
                                                rule: "seconds from 1 to 86400", isValid: isSeconds)
        edge.connectTimeoutSeconds = section.read("connect_timeout", default: edge.connectTimeoutSeconds,
                                                  rule: "seconds from 1 to 86400", isValid: isSeconds)
        edge.keepAliveTimeoutSeconds = section.read("keepalive_timeout", default: edge.keepAliveTimeoutSeconds,
                                                    rule: "seconds from 1 to 86400", isValid: isSeconds)
        edge.clientTimeoutSeconds = section.read("client_timeout", default: edge.clientTimeoutSeconds,
                                                 rule: "seconds from 1 to 86400", isValid: isSeconds)
        edge.maxKeepAliveRequests = section.read("max_keepalive_requests", default: edge.maxKeepAliveRequests,
                                                 rule: "an integer from 1 to 1000000",
                                                 isValid: { (1...1_000_000).contains($0) })
        edge.upstreamIdleConnections = section.read("upstream_idle_connections",
                                                    default: edge.upstreamIdleConnections,
                                                    rule: "an integer from 0 to 10000",
                                                    isValid: { (0...10_000).contains($0) })
        edge.upstreamIdleTimeoutSeconds = section.read("upstream_idle_timeout",
                                                       default: edge.upstreamIdleTimeoutSeconds,
                                                       rule: "seconds from 1 to 86400", isValid: isSeconds)
        return edge
    }

    /// Rules that involve more than one key.
    static func validate(_ configuration: PortalConfiguration, diagnostics: ConfigDiagnostics) {
        let app = configuration.app
        if let host = IPAddress(app.host), !host.isLoopback, !app.allowPublicBind {
            diagnostics.report(
                "app.host \(app.host) is not a loopback address; the app must stay behind the edge. "
                    + "Set app.allow_public_bind: true only if you really mean to expose it", at: nil)
        }
        let edge = configuration.edge
        if (edge.certificateFile == nil) != (edge.keyFile == nil) {
            diagnostics.report("edge.certificate_file and edge.key_file must be given together", at: nil)
        }
        if edge.httpPort == edge.httpsPort {
            diagnostics.report("edge.http_port and edge.https_port are both \(edge.httpPort); they must differ", at: nil)
        }
        let appAddress = IPAddress(app.host)
        for port in [edge.httpPort, edge.httpsPort] where port == app.port {
            let overlaps = edge.listen.contains { listen in
                guard let listenAddress = IPAddress(listen), let appAddress else { return true }
                return listenAddress.isUnspecified || listenAddress == appAddress
            }
            if overlaps {
                diagnostics.report("app.port \(app.port) is also an edge port; pick another one", at: nil)
            }
        }
    }

    static func isPort(_ value: Int) -> Bool { (1...65_535).contains(value) }
    static func isSeconds(_ value: Int) -> Bool { (1...86_400).contains(value) }

    static func isHostName(_ value: String) -> Bool {
        guard !value.isEmpty, value.count <= 253 else { return false }
        if IPAddress(value) != nil { return true }
        return value.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.count <= 63
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
                && label.first != "-" && label.last != "-"
        }
    }

    static func isDatabaseURL(_ value: String) -> Bool {
        guard value.hasPrefix("sqlite://") else { return false }
        return value.count > "sqlite://".count
    }
}
