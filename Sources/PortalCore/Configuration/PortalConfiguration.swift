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
    /// Requests one client address may make per minute (bursts up to that many); 0 turns the
    /// ceiling off.
    public var requestsPerMinutePerClient: Int = 600
    /// Calls one personal API token may make per minute (bursts up to that many); 0 turns the
    /// limit off.
    public var apiRequestsPerMinutePerToken: Int = 120
    /// Sign-in with Google (OpenID Connect); off until a client id is set.
    public var google = GoogleSignInSettings()

    public init() {}
}

/// Sign-in with Google Workspace accounts through OpenID Connect (the seed's Google OAuth 2.0).
/// The client secret is not here: it comes from `PORTAL_SECRET_GOOGLE_CLIENT`, the file named by
/// `PORTAL_SECRET_GOOGLE_CLIENT_FILE`, or `<data_dir>/secrets/google_client.key`.
public struct GoogleSignInSettings: Sendable, Equatable {
    /// The OAuth client id; sign-in with Google is offered only when it is set.
    public var clientID: String?
    /// The OpenID provider; its discovery document is read from `<issuer>/.well-known/openid-configuration`.
    public var issuer: String = "https://accounts.google.com"
    /// Google Workspace domains (`hd` claim) whose accounts may sign in; empty allows any verified account.
    public var allowedDomains: [String] = []
    /// Creates a `colaborador` for a verified account with no user yet, instead of refusing it.
    public var createUsers: Bool = false
    /// The callback URL registered with Google; when unset, built from the request's public
    /// scheme and host (`https://<host>/auth/google/callback`).
    public var redirectURL: String?

    public var isEnabled: Bool { clientID != nil }

    public init() {}
}

/// Settings of the edge process.
public struct EdgeSettings: Sendable, Equatable {
    /// Addresses the default listeners use (IPv4 or IPv6 literals).
    public var listen: [String] = ["0.0.0.0"]
    /// Plain HTTP port of the default listeners; sites redirect it to HTTPS unless told otherwise.
    public var httpPort: Int = 8080
    /// HTTPS port of the default listeners.
    public var httpsPort: Int = 8443
    /// Plain-HTTP listeners (`address:port`) instead of `listen` × `http_port`; `[]` for none.
    public var httpListeners: [String]?
    /// HTTPS listeners (`address:port`) instead of `listen` × `https_port`; `[]` for none.
    public var httpsListeners: [String]?
    /// Name of the implicit site, used in redirects when a request names no usable host.
    public var serverName: String = "localhost"
    /// PEM certificate (leaf first, then the chain) of the implicit site; the development certificate when unset.
    public var certificateFile: String?
    /// PEM private key matching `certificateFile`.
    public var keyFile: String?
    /// Upstream addresses (`host:port`) of the implicit site; the app's own address when unset.
    public var upstreams: [String] = []
    /// Sites (virtual hosts); when empty, one implicit site serves every host.
    public var sites: [SiteSettings] = []
    /// Site that answers requests for a host no site names; without one they get `unknownHostStatus`.
    public var defaultSite: String?
    /// Status for a host no site names when there is no default site: 421 or 404.
    public var unknownHostStatus: Int = 421

    /// Seconds to wait for the upstream's response (Apache's `ProxyTimeout`).
    public var proxyTimeoutSeconds: Int = 300
    /// Seconds to wait for a TCP connection to the upstream.
    public var connectTimeoutSeconds: Int = 5
    /// Seconds a request waits for a free upstream connection when `upstream_max_connections` is reached.
    public var poolAcquireTimeoutSeconds: Int = 300
    /// Seconds a client connection may stay idle between requests (Apache's `KeepAliveTimeout`).
    public var keepAliveTimeoutSeconds: Int = 5
    /// Seconds a client may take to accept response data (Apache's `Timeout`).
    public var clientTimeoutSeconds: Int = 120
    /// `RequestReadTimeout header=20-40,MinRate=500`: first seconds allowed for a request head…
    public var requestHeaderTimeoutSeconds: Int = 20
    /// …extended by one second per `minRate` bytes received, up to this many seconds.
    public var requestHeaderMaxTimeoutSeconds: Int = 40
    /// `body=20,MinRate=500`: seconds allowed for a request body before the minimum rate applies.
    public var requestBodyTimeoutSeconds: Int = 20
    /// Bytes per second a slow client must keep up (`MinRate`).
    public var minRateBytesPerSecond: Int = 500
    /// Requests served on one client connection before it is closed (Apache's `MaxKeepAliveRequests`).
    public var maxKeepAliveRequests: Int = 100
    /// Client connections open at once; more are refused (Apache's `ThreadsPerChild 250`).
    public var maxConnections: Int = 250
    /// Longest request line (`LimitRequestLine`); longer gets 414.
    public var maxRequestLineBytes: Int = 8190
    /// Longest header field (`LimitRequestFieldSize`); longer gets 431.
    public var maxHeaderBytes: Int = 8190
    /// Most header fields in a request (`LimitRequestFields`); more gets 431.
    public var maxHeaderCount: Int = 100
    /// Largest request body by default (`LimitRequestBody`); larger gets 413. Routes may set their own.
    public var maxBodyBytes: Int = 1024 * 1024 * 1024
    /// Idle upstream connections kept per event loop and upstream address.
    public var upstreamIdleConnections: Int = 256
    /// Connections per event loop and upstream address, busy or idle; 0 means no limit.
    public var upstreamMaxConnections: Int = 0
    /// Seconds an idle upstream connection is kept before it is closed.
    public var upstreamIdleTimeoutSeconds: Int = 60
    /// Memory for upstream responses kept by routes with `cache` (mod_cache, nginx's `proxy_cache`),
    /// shared by every route; the least recently used responses leave first.
    public var cacheMemoryBytes: Int = 64 * 1024 * 1024
    /// Also send RFC 7239 `Forwarded` to upstreams.
    public var forwardedHeader: Bool = false
    /// The server's cipher-suite order wins over the client's (nginx's `ssl_prefer_server_ciphers`),
    /// in TLS 1.2 and TLS 1.3: AES-128-GCM, then AES-256-GCM, then ChaCha20-Poly1305.
    public var tlsPreferServerCiphers: Bool = true
    /// Staple OCSP answers to handshakes (Apache's `SSLUseStapling On`): for certificates whose
    /// issuer names an OCSP responder, answers are fetched, checked, cached and refreshed.
    public var ocspStapling: Bool = true
    /// DER OCSP answer to staple for the implicit site's certificate instead of fetching one.
    public var ocspResponseFile: String?
    /// Offer HTTP/2 on HTTPS listeners (ALPN `h2`, then `http/1.1`).
    public var http2: Bool = true
    /// Streams a client may have open at once on one HTTP/2 connection.
    public var http2MaxConcurrentStreams: Int = 100
    /// Compress responses (gzip) when the client accepts it and the type is in `compressTypes`.
    public var compression: Bool = true
    /// zlib level, 1 (fastest) to 9 (smallest).
    public var compressionLevel: Int = 6
    /// Prefer brotli for clients that accept `br`.
    public var brotli: Bool = true
    /// Brotli quality, 0 (fastest) to 11 (smallest); 5 suits on-the-fly compression.
    public var brotliLevel: Int = 5
    /// Responses with a known length below this are sent as they are.
    public var compressionMinBytes: Int = 256
    /// Media types worth compressing (the seed's mod_deflate list plus SVG).
    public var compressTypes: [String] = [
        "text/html", "text/plain", "text/xml", "text/css", "text/javascript", "application/javascript",
        "application/json", "application/xml", "image/svg+xml",
    ]
    /// Browser cache lifetime of static files by media type, in seconds (Apache's mod_expires);
    /// the seed's table by default: CSS and JavaScript a month, images and fonts a year.
    public var expires: [String: Int] = [
        "text/css": 30 * 86_400, "application/javascript": 30 * 86_400, "text/javascript": 30 * 86_400,
        "image/png": 365 * 86_400, "image/jpeg": 365 * 86_400, "image/gif": 365 * 86_400,
        "image/webp": 365 * 86_400, "image/x-icon": 365 * 86_400, "image/svg+xml": 365 * 86_400,
        "image/avif": 365 * 86_400, "image/vnd.microsoft.icon": 365 * 86_400,
        "font/woff2": 365 * 86_400, "font/woff": 365 * 86_400, "font/ttf": 365 * 86_400, "font/otf": 365 * 86_400,
    ]
    /// The `expires` lifetimes also go on proxied answers that carry neither `Cache-Control` nor
    /// `Expires` (the seed's Apache proxies everything, so its table acts on the app's answers).
    public var expiresProxied = true
    /// Response headers for every site (sites add their own on top).
    public var headers = HeaderRules()
    /// `Strict-Transport-Security` on HTTPS responses; nil turns it off.
    public var hsts: String? = HeaderRules.defaultHSTS
    /// Event-loop threads serving connections; 0 means one per CPU core.
    public var workers: Int = 0
    /// Seconds a graceful stop or reload waits for requests in flight.
    public var drainTimeoutSeconds: Int = 30

    /// Access log path; `off` disables it; `<data_dir>/logs/access.log` when unset.
    public var accessLog: String?
    /// `combined` (Apache's format) or `json` (one object per line, with upstream timings).
    public var accessLogFormat: String = "combined"
    /// Error log path; `<data_dir>/logs/error.log` when unset.
    public var errorLog: String?
    /// Rotate a log when it passes this size (0: never by size).
    public var logRotateBytes: Int = 100 * 1024 * 1024
    /// Rotate logs at midnight (local time).
    public var logRotateDaily: Bool = true
    /// Days rotated logs are kept (the seed's backup script keeps 30).
    public var logKeepDays: Int = 30

    public init() {}
}

/// One site (virtual host): the names it answers, its certificate and its routes.
public struct SiteSettings: Sendable, Equatable {
    public var name: String
    /// Host names: exact (`portal.example.com.br`) or wildcard (`*.example.com.br`).
    public var hosts: [String]
    public var certificateFile: String?
    public var keyFile: String?
    /// Extra PEM chain appended after the certificate file's own certificates.
    public var chainFile: String?
    /// Where `certificate_file`, `key_file` and `chain_file` were written (`portal.yaml:12:25`),
    /// so problems found with the files later point at their line.
    public var filePlaces: [String: String] = [:]
    /// DER OCSP answer to staple instead of fetching one (nginx's `ssl_stapling_file`).
    public var ocspResponseFile: String?
    /// Answer plain HTTP with a 301 to HTTPS (the seed's section 9, option 1).
    public var redirectToHTTPS: Bool = true
    /// When set, requests for any other host of the site are redirected here (option 2, `www.`).
    public var canonicalHost: String?
    /// Longest matching path prefix wins.
    public var routes: [RouteSettings]
    /// Access log of this site alone, besides the global one.
    public var accessLog: String?
    /// Response headers of this site, applied after the edge-wide ones.
    public var headers = HeaderRules()
    /// Overrides `edge.hsts` for this site; `off` turns it off.
    public var hsts: String?
    /// Keep `%2F` in paths, encoded, instead of refusing it with `404` (Apache's
    /// `AllowEncodedSlashes NoDecode`), for applications that put encoded slashes in their URLs.
    public var allowEncodedSlashes = false

    public init(name: String, hosts: [String], routes: [RouteSettings]) {
        self.name = name
        self.hosts = hosts
        self.routes = routes
    }
}

/// Apache's `Header always set|append|unset`: rules applied to every response of a site,
/// including the edge's own error pages.
public struct HeaderRules: Sendable, Equatable {
    /// Replace (or add) these headers.
    public var set: [HeaderField] = []
    /// Add these headers, keeping any the upstream sent.
    public var append: [HeaderField] = []
    /// Remove these headers (also any default the edge would add).
    public var unset: [String] = []

    public init(set: [HeaderField] = [], append: [HeaderField] = [], unset: [String] = []) {
        self.set = set
        self.append = append
        self.unset = unset
    }

    /// `max-age` of one year with subdomains, as the seed recommends (no `preload` unless asked).
    public static let defaultHSTS = "max-age=31536000; includeSubDomains"

    /// Headers every response gets unless a rule unsets them.
    public static let defaults: [HeaderField] = [
        HeaderField(name: "X-Frame-Options", value: "DENY"),
        HeaderField(name: "X-Content-Type-Options", value: "nosniff"),
        HeaderField(name: "Referrer-Policy", value: "strict-origin-when-cross-origin"),
        HeaderField(name: "Permissions-Policy", value: "camera=(), microphone=(), geolocation=()"),
        HeaderField(name: "Content-Security-Policy", value: "default-src 'self'; img-src 'self' data: https:; "
            + "style-src 'self' 'unsafe-inline'; script-src 'self'; font-src 'self' data:; connect-src 'self'; "
            + "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"),
    ]
}

/// How one route caches upstream responses (Apache's `CacheEnable`, nginx's `proxy_cache`).
public struct RouteCacheSettings: Sendable, Equatable {
    /// Responses with larger bodies are passed on without being kept.
    public var maxEntryBytes: Int = 1024 * 1024
    /// Lifetime of a response that states none (no `Cache-Control` lifetime, no `Expires`), in
    /// seconds; 0 keeps only responses that state their own lifetime.
    public var defaultTTLSeconds: Int = 0
    /// How long after it expired a stored response may still answer when the upstream fails
    /// (unreachable, timed out, or a 5xx), in seconds; 0: never (Apache's `CacheStaleOnError`).
    public var staleOnErrorSeconds: Int = 0

    public init() {}
}

/// Apache's `Require` for one route: loopback only, address lists, HTTP basic auth.
public struct AccessRules: Sendable, Equatable {
    /// Only clients on this machine (127.0.0.0/8, ::1, or the server's own address): Apache's
    /// `Require local`. With `allow` too, a client passes when either lets it in.
    public var localOnly: Bool = false
    /// When not empty, only clients in these ranges (or local ones, with `localOnly`).
    public var allow: [String] = []
    /// Clients in these ranges are refused (checked first).
    public var deny: [String] = []
    /// An htpasswd file with bcrypt hashes; when set, HTTP basic auth is required.
    public var basicAuthFile: String?
    /// The realm shown by browsers.
    public var basicAuthRealm: String = "Portal"
    /// With both address rules and a password: `false` asks for both (nginx's `satisfy all`),
    /// `true` lets either one in (nginx's `satisfy any`, Apache's several `Require` lines).
    public var satisfyAny: Bool = false

    public init() {}

    public var isOpen: Bool { !localOnly && allow.isEmpty && deny.isEmpty && basicAuthFile == nil }
}

/// A header name and value.
public struct HeaderField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A path prefix and where its requests go.
public struct RouteSettings: Sendable, Equatable {
    /// Path prefix (`/`, `/api/`).
    public var path: String
    /// Upstream addresses (`host:port`), used round-robin.
    public var upstreams: [String]
    /// Set when the upstreams are written as URLs (`http://host:port/path`): the route's path is
    /// replaced by this one on the way up (Apache's `ProxyPass /api/ http://host:3000/`).
    public var upstreamPath: String?
    /// Largest request body for this route; the edge-wide limit when unset.
    public var maxBodyBytes: Int?
    /// Send the client's `Host` upstream (Apache's `ProxyPreserveHost On`); otherwise the upstream's address.
    public var preserveHost: Bool = true
    /// Serve files from this folder instead of proxying (the part of the path after `path` is
    /// looked up under it).
    public var root: String?
    /// Files tried for a directory.
    public var index: [String] = ["index.html"]
    /// List a directory that has no index file.
    public var listDirectories: Bool = false
    /// Serve `file.gz` / `file.br` next to `file` to clients that accept them.
    public var precompressed: Bool = true
    /// Who may use this route.
    public var access = AccessRules()
    /// Answer with the edge's status page instead of proxying (mod_status).
    public var status: Bool = false
    /// Answer with the edge's Prometheus metrics instead of proxying.
    public var metrics: Bool = false
    /// Keep the upstream's cacheable responses and answer repeated requests from memory; nil: off.
    public var cache: RouteCacheSettings?

    public init(path: String, upstreams: [String]) {
        self.path = path
        self.upstreams = upstreams
    }

    /// A route that serves files from `root`.
    public init(path: String, root: String) {
        self.path = path
        self.upstreams = []
        self.root = root
    }
}

/// Where the data lives.
public struct DatabaseSettings: Sendable, Equatable {
    /// `sqlite:///path/portal.sqlite` or `postgres://user:password@host:5432/portal`; unset
    /// means `<data_dir>/portal.sqlite`.
    public var url: String?
    /// Connections kept open to a database server (the seed's SQLAlchemy `pool_size`).
    public var poolSize: Int = 10
    /// Connections opened beyond `pool_size` under load (the seed's `max_overflow`).
    public var maxOverflow: Int = 5
    /// Seconds a request waits for a free connection before it fails with `503`.
    public var poolTimeout: Int = 10
    /// Seconds after which a pooled connection left unused is closed (the seed's `pool_recycle`,
    /// 3600); 0 keeps idle connections open.
    public var poolRecycle: Int = 3600
    /// `daily` makes the app take a backup every day at `backup_time`; `off` leaves it to
    /// `portal backup` (cron, a timer unit).
    public var backupSchedule: String = "off"
    /// Local time of the daily backup, `HH:MM`.
    public var backupTime: String = "02:30"
    /// Folder of the backups; `<data_dir>/backups` when unset.
    public var backupDirectory: String?
    /// Backups older than this many days are removed after each backup (the seed's 30); 0 keeps all.
    public var backupKeepDays: Int = 30

    public init() {}
}

/// Logging settings.
public struct LogSettings: Sendable, Equatable {
    /// `trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`.
    public var level: String = "info"

    public init() {}
}
