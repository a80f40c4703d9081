/// The whole configuration of a Portal installation: one file, every value with a safe default.
///
/// The file is YAML (see `docs/configuration.md`); environment variables named
/// `PORTAL_<SECTION>_<KEY>` override it, and command-line flags override both.
public struct PortalConfiguration: Sendable, Equatable {
    /// Folder holding the database, secrets, certificates and logs (`data_dir`).
    public var dataDirectory: String
    /// The application process (the Waitress + Flask roles).
    public var app: AppSettings
    /// The edge process (the Apache role).
    public var edge: EdgeSettings
    /// Where the data lives.
    public var database: DatabaseSettings
    /// Logging of every process.
    public var log: LogSettings

    /// The embedded default: `./data`, app on 127.0.0.1:9000, edge on 8080/8443.
    public init(
        dataDirectory: String = "./data",
        app: AppSettings = AppSettings(),
        edge: EdgeSettings = EdgeSettings(),
        database: DatabaseSettings = DatabaseSettings(),
        log: LogSettings = LogSettings()
    ) {
        self.dataDirectory = dataDirectory
        self.app = app
        self.edge = edge
        self.database = database
        self.log = log
    }
}

/// Settings of the application process.
public struct AppSettings: Sendable, Equatable {
    /// Address the app binds; loopback unless `allowPublicBind` is set.
    public var host: String = "127.0.0.1"
    /// Port the app listens on (the seed's `WAITRESS_PORT`).
    public var port: Int = 9000
    /// Must be true to bind anything but a loopback address.
    public var allowPublicBind: Bool = false
    /// Peers whose `X-Forwarded-*` headers are believed (addresses or CIDR ranges).
    public var trustedProxies: [String] = ["127.0.0.1", "::1"]
    /// How many proxies in front of the app add to `X-Forwarded-For` (the seed's `trusted_proxy_count`).
    public var trustedProxyCount: Int = 1
    /// Minutes of inactivity after which a session ends.
    public var sessionIdleMinutes: Int = 120
    /// Hours after which a session ends whatever its activity.
    public var sessionLifetimeHours: Int = 12

    public init() {}
}

/// Settings of the edge process.
public struct EdgeSettings: Sendable, Equatable {
    /// Addresses the edge listens on (IPv4 or IPv6 literals).
    public var listen: [String] = ["0.0.0.0"]
    /// Plain HTTP port; answers with a redirect to HTTPS.
    public var httpPort: Int = 8080
    /// HTTPS port; terminates TLS and proxies to the app.
    public var httpsPort: Int = 8443
    /// Name of the site, used in redirects when the request names no host.
    public var serverName: String = "localhost"
    /// PEM certificate (leaf first, then the chain); the generated development certificate when unset.
    public var certificateFile: String?
    /// PEM private key matching `certificateFile`.
    public var keyFile: String?
    /// Upstream addresses (`host:port`); the app's own address when unset.
    public var upstreams: [String] = []
    /// Seconds to wait for the upstream's response (Apache's `ProxyTimeout`).
    public var proxyTimeoutSeconds: Int = 300
    /// Seconds to wait for a TCP connection to the upstream.
    public var connectTimeoutSeconds: Int = 5
    /// Seconds a client connection may stay idle between requests (Apache's `KeepAliveTimeout`).
    public var keepAliveTimeoutSeconds: Int = 5
    /// Seconds a client may take to send or receive data (Apache's `Timeout`).
    public var clientTimeoutSeconds: Int = 120
    /// Requests served on one client connection before it is closed (Apache's `MaxKeepAliveRequests`).
    public var maxKeepAliveRequests: Int = 100
    /// Idle upstream connections kept per event loop and upstream address.
    public var upstreamIdleConnections: Int = 32
    /// Seconds an idle upstream connection is kept before it is closed.
    public var upstreamIdleTimeoutSeconds: Int = 60

    public init() {}
}

/// Where the data lives.
public struct DatabaseSettings: Sendable, Equatable {
    /// `sqlite:///path/portal.sqlite`; unset means `<data_dir>/portal.sqlite`.
    public var url: String?

    public init() {}
}

/// Logging settings.
public struct LogSettings: Sendable, Equatable {
    /// `trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`.
    public var level: String = "info"

    public init() {}
}
