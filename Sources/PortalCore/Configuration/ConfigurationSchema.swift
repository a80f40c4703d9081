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
            "url", rule: "a database URL such as sqlite:///var/lib/portal/portal.sqlite or postgres://portal:secret@127.0.0.1:5432/portal",
            isValid: isDatabaseURL)
        configuration.database.poolSize = database.read("pool_size", default: configuration.database.poolSize,
                                                        rule: "a number of connections from 1 to 200", isValid: { (1...200).contains($0) })
        configuration.database.maxOverflow = database.read("max_overflow", default: configuration.database.maxOverflow,
                                                           rule: "a number of connections from 0 to 200", isValid: { (0...200).contains($0) })
        configuration.database.poolTimeout = database.read("pool_timeout", default: configuration.database.poolTimeout,
                                                           rule: "a number of seconds from 1 to 300", isValid: { (1...300).contains($0) })
        configuration.database.poolRecycle = database.read("pool_recycle", default: configuration.database.poolRecycle,
                                                           rule: "a number of seconds from 0 (never) to 86400",
                                                           isValid: { (0...86_400).contains($0) })
        configuration.database.backupSchedule = database.read("backup_schedule", default: configuration.database.backupSchedule,
                                                              rule: "off or daily", isValid: { ["off", "daily"].contains($0) })
        configuration.database.backupTime = database.read("backup_time", default: configuration.database.backupTime,
                                                          rule: "a time of day as HH:MM, e.g. 02:30", isValid: { BackupTime($0) != nil })
        configuration.database.backupDirectory = database.readOptional("backup_dir", rule: "a folder path", isValid: { !$0.isEmpty })
        configuration.database.backupKeepDays = database.read("backup_keep_days", default: configuration.database.backupKeepDays,
                                                              rule: "a number of days from 0 (keep all) to 3650",
                                                              isValid: { (0...3650).contains($0) })
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
        app.requestsPerMinutePerClient = section.read(
            "requests_per_minute_per_client", default: app.requestsPerMinutePerClient,
            rule: "a number of requests from 0 (no limit) to 1000000", isValid: { (0...1_000_000).contains($0) })
        app.apiRequestsPerMinutePerToken = section.read(
            "api_requests_per_minute_per_token", default: app.apiRequestsPerMinutePerToken,
            rule: "a number of requests from 0 (no limit) to 1000000", isValid: { (0...1_000_000).contains($0) })
        var google = section.section("google")
        app.google = readGoogle(&google)
        google.finish()
        return app
    }

    private static func readGoogle(_ section: inout ConfigSection) -> GoogleSignInSettings {
        var google = GoogleSignInSettings()
        google.clientID = section.readOptional("client_id", rule: "the OAuth client id, e.g. 1234-abc.apps.googleusercontent.com",
                                               isValid: { !$0.isEmpty && $0.count <= 256 && !$0.contains(where: \.isWhitespace) })
        google.issuer = section.read("issuer", default: google.issuer,
                                     rule: "an https:// URL (http:// only for a loopback address)", isValid: ProviderURL.isSecureOrLoopback)
        google.allowedDomains = section.read("allowed_domains", default: google.allowedDomains,
                                             rule: "a list of domain names, e.g. [\"jpcontabil.com.br\"]",
                                             isValid: { $0.allSatisfy { $0.contains(".") && !$0.contains("@") && !$0.contains(where: \.isWhitespace) } })
        google.createUsers = section.read("create_users", default: google.createUsers)
        if google.createUsers, google.allowedDomains.isEmpty {
            section.reportKey("create_users", "needs allowed_domains: otherwise any Google account in the world would get a user")
        }
        google.redirectURL = section.readOptional("redirect_url",
                                                  rule: "the full callback URL, e.g. https://portal.example.com/auth/google/callback",
                                                  isValid: ProviderURL.isSecureOrLoopback)
        if section.hasKey("client_secret") {
            section.reportKey("client_secret", """
                does not belong in the configuration file; put the secret in PORTAL_SECRET_GOOGLE_CLIENT, \
                in a file named by PORTAL_SECRET_GOOGLE_CLIENT_FILE, or in <data_dir>/secrets/google_client.key (mode 0600)
                """)
        }
        return google
    }

    private static func readEdge(_ section: inout ConfigSection) -> EdgeSettings {
        var edge = EdgeSettings()
        edge.listen = section.read("listen", default: edge.listen,
                                   rule: "a non-empty list of IP addresses, e.g. [\"0.0.0.0\", \"::\"]",
                                   isValid: { !$0.isEmpty && $0.allSatisfy { IPAddress($0) != nil } })
        edge.httpPort = section.read("http_port", default: edge.httpPort, rule: portRule, isValid: isPort)
        edge.httpsPort = section.read("https_port", default: edge.httpsPort, rule: portRule, isValid: isPort)
        let listenerRule = "a list of address:port listeners, e.g. [\"0.0.0.0:80\", \"[::]:80\"]"
        let isListenerList: ([String]) -> Bool = { $0.allSatisfy { isListener($0) } }
        edge.httpListeners = section.readOptional("http_listeners", rule: listenerRule, isValid: isListenerList)
        edge.httpsListeners = section.readOptional("https_listeners", rule: listenerRule, isValid: isListenerList)
        edge.serverName = section.read("server_name", default: edge.serverName, rule: "a host name",
                                       isValid: isHostName)
        edge.certificateFile = section.readOptional("certificate_file", rule: "a file path", isValid: { !$0.isEmpty })
        edge.keyFile = section.readOptional("key_file", rule: "a file path", isValid: { !$0.isEmpty })
        // These feed the implicit site's `/` route, where a URL's path could only be `/`.
        edge.upstreams = section.read("upstreams", default: edge.upstreams,
                                      rule: "a list of host:port addresses, e.g. [\"127.0.0.1:9000\"] (URLs without a path; map paths in a site's routes)",
                                      isValid: { $0.allSatisfy { HostAndPort($0) != nil && ["", "/", nil].contains(HostAndPort.urlPath(of: $0)) } })
        edge.defaultSite = section.readOptional("default_site", rule: "the name of a site", isValid: { !$0.isEmpty })
        edge.unknownHostStatus = section.read("unknown_host_status", default: edge.unknownHostStatus,
                                              rule: "421 or 404", isValid: { $0 == 421 || $0 == 404 })

        edge.proxyTimeoutSeconds = seconds(&section, "proxy_timeout", edge.proxyTimeoutSeconds)
        edge.connectTimeoutSeconds = seconds(&section, "connect_timeout", edge.connectTimeoutSeconds)
        edge.poolAcquireTimeoutSeconds = seconds(&section, "pool_acquire_timeout", edge.poolAcquireTimeoutSeconds)
        edge.keepAliveTimeoutSeconds = seconds(&section, "keepalive_timeout", edge.keepAliveTimeoutSeconds)
        edge.clientTimeoutSeconds = seconds(&section, "client_timeout", edge.clientTimeoutSeconds)
        edge.requestHeaderTimeoutSeconds = seconds(&section, "request_header_timeout", edge.requestHeaderTimeoutSeconds)
        edge.requestHeaderMaxTimeoutSeconds = seconds(&section, "request_header_max_timeout",
                                                      edge.requestHeaderMaxTimeoutSeconds)
        edge.requestBodyTimeoutSeconds = seconds(&section, "request_body_timeout", edge.requestBodyTimeoutSeconds)
        edge.drainTimeoutSeconds = seconds(&section, "drain_timeout", edge.drainTimeoutSeconds)
        edge.minRateBytesPerSecond = count(&section, "min_rate", edge.minRateBytesPerSecond, 0...1_000_000_000)
        edge.maxKeepAliveRequests = count(&section, "max_keepalive_requests", edge.maxKeepAliveRequests, 1...1_000_000)
        edge.maxConnections = count(&section, "max_connections", edge.maxConnections, 1...1_000_000)
        edge.maxRequestLineBytes = count(&section, "max_request_line", edge.maxRequestLineBytes, 256...1_048_576)
        edge.maxHeaderBytes = count(&section, "max_header_size", edge.maxHeaderBytes, 256...1_048_576)
        edge.maxHeaderCount = count(&section, "max_headers", edge.maxHeaderCount, 8...10_000)
        edge.maxBodyBytes = section.read("max_body_size", default: ByteSize(bytesValue: edge.maxBodyBytes)).bytes
        edge.upstreamIdleConnections = count(&section, "upstream_idle_connections", edge.upstreamIdleConnections,
                                             0...10_000)
        edge.upstreamMaxConnections = count(&section, "upstream_max_connections", edge.upstreamMaxConnections,
                                            0...100_000)
        edge.upstreamIdleTimeoutSeconds = seconds(&section, "upstream_idle_timeout", edge.upstreamIdleTimeoutSeconds)
        edge.forwardedHeader = section.read("forwarded_header", default: edge.forwardedHeader)
        edge.cacheMemoryBytes = section.read("cache_memory", default: ByteSize(bytesValue: edge.cacheMemoryBytes),
                                             rule: "a size of at least 1m, such as 64m",
                                             isValid: { $0.bytes >= 1024 * 1024 }).bytes
        edge.workers = count(&section, "workers", edge.workers, 0...256)
        edge.headers = readHeaderRules(&section)
        edge.http2 = section.read("http2", default: edge.http2)
        edge.tlsPreferServerCiphers = section.read("tls_prefer_server_ciphers", default: edge.tlsPreferServerCiphers)
        edge.ocspStapling = section.read("ocsp_stapling", default: edge.ocspStapling)
        edge.ocspResponseFile = section.readOptional("ocsp_response_file", rule: "a file path", isValid: { !$0.isEmpty })
        edge.http2MaxConcurrentStreams = count(&section, "http2_max_concurrent_streams", edge.http2MaxConcurrentStreams, 1...10_000)
        edge.compression = section.read("compression", default: edge.compression)
        var expires = section.section("expires")
        for (type, seconds) in expires.readDurations() { edge.expires[type] = seconds }
        expires.finishAsMap()
        edge.expiresProxied = section.read("expires_proxied", default: edge.expiresProxied)
        edge.compressionLevel = count(&section, "compression_level", edge.compressionLevel, 1...9)
        edge.brotli = section.read("brotli", default: edge.brotli)
        edge.brotliLevel = count(&section, "brotli_level", edge.brotliLevel, 0...11)
        edge.compressionMinBytes = section.read("compression_min_size", default: ByteSize(bytesValue: edge.compressionMinBytes)).bytes
        edge.compressTypes = section.read("compress_types", default: edge.compressTypes,
                                          rule: "a list of media types such as text/html",
                                          isValid: { $0.allSatisfy { $0.contains("/") && !$0.contains(" ") } })
        if let hsts: String = section.readOptional("hsts", rule: "a Strict-Transport-Security value or off",
                                                   isValid: isHSTS) {
            edge.hsts = hsts == "off" ? nil : hsts
        }

        edge.accessLog = section.readOptional("access_log", rule: "a file path or off", isValid: { !$0.isEmpty })
        edge.accessLogFormat = section.read("access_log_format", default: edge.accessLogFormat,
                                            rule: "combined or json", isValid: { $0 == "combined" || $0 == "json" })
        edge.errorLog = section.readOptional("error_log", rule: "a file path", isValid: { !$0.isEmpty })
        edge.logRotateBytes = section.read("log_rotate_size", default: ByteSize(bytesValue: edge.logRotateBytes)).bytes
        edge.logRotateDaily = section.read("log_rotate_daily", default: edge.logRotateDaily)
        edge.logKeepDays = count(&section, "log_keep_days", edge.logKeepDays, 1...3650)

        for var item in section.sectionList("sites") {
            if let site = readSite(&item) { edge.sites.append(site) }
            item.finish()
        }
        return edge
    }

    static let upstreamsRule = "a list of host:port addresses, e.g. [\"127.0.0.1:9000\"], or of http:// URLs as in Apache's ProxyPass"

    private static func readSite(_ section: inout ConfigSection) -> SiteSettings? {
        let name: String = section.read("name", default: "", rule: "a site name (letters, digits, - and _)",
                                        isValid: { !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" } })
        let hosts: [String] = section.read("hosts", default: [],
                                           rule: "a non-empty list of host names, e.g. [\"portal.example.com\", \"*.example.com\"] (\"*\" for any host)",
                                           isValid: { !$0.isEmpty && $0.allSatisfy(isHostPattern) })
        section.notePlaces(of: "name")
        section.notePlaces(of: "hosts")
        if !section.has("name") { section.report("a site needs a 'name'") }
        if !section.has("hosts") { section.report("site '\(name)' needs 'hosts'") }
        var site = SiteSettings(name: name, hosts: hosts.map { $0.lowercased() }, routes: [])
        site.certificateFile = section.readOptional("certificate_file", rule: "a file path", isValid: { !$0.isEmpty })
        site.keyFile = section.readOptional("key_file", rule: "a file path", isValid: { !$0.isEmpty })
        site.chainFile = section.readOptional("chain_file", rule: "a file path", isValid: { !$0.isEmpty })
        for key in ["certificate_file", "key_file", "chain_file"] {
            if let place = section.placeText(of: key) { site.filePlaces[key] = place }
        }
        site.ocspResponseFile = section.readOptional("ocsp_response_file", rule: "a file path", isValid: { !$0.isEmpty })
        site.redirectToHTTPS = section.read("redirect_to_https", default: site.redirectToHTTPS)
        site.canonicalHost = section.readOptional("canonical_host", rule: "a host name", isValid: isHostName)
        site.accessLog = section.readOptional("access_log", rule: "a file path", isValid: { !$0.isEmpty })
        site.headers = readHeaderRules(&section)
        site.hsts = section.readOptional("hsts", rule: "a Strict-Transport-Security value or off", isValid: isHSTS)
        site.allowEncodedSlashes = section.read("allow_encoded_slashes", default: site.allowEncodedSlashes)
        if (site.certificateFile == nil) != (site.keyFile == nil) {
            section.report("site '\(name)': certificate_file and key_file must be given together")
        }
        let routeItems = section.sectionList("routes")
        var routePlaces: [String: String] = [:]
        for var item in routeItems {
            // Requests are matched in normal form, so a route must be written in it to ever match.
            let path: String = item.read("path", default: "",
                                         rule: "a path starting with /, written plainly (no %, ?, #, ;, //, . or .. segments)",
                                         isValid: isPlainRoutePath)
            let upstreams: [String] = item.read("upstreams", default: [], rule: upstreamsRule,
                                                isValid: { !$0.isEmpty && $0.allSatisfy { HostAndPort($0) != nil } })
            let root: String? = item.readOptional("root", rule: "a folder path", isValid: { !$0.isEmpty })
            if !item.has("path") { item.report("a route needs a 'path'") }
            if !path.isEmpty {
                // The second of two routes with one path could never be used: named at its own line.
                if let first = routePlaces[path] {
                    item.report("site '\(name)' has two routes with the path '\(path)' (the other is at \(first)); "
                                + "only one of them would ever be used", key: "path")
                } else {
                    routePlaces[path] = item.line(of: "path").map { "line \($0)" } ?? "another route"
                }
            }
            let isStatus = item.has("status") || item.has("metrics")
            if !item.has("upstreams") && root == nil && !isStatus {
                item.report("route '\(path)' needs 'upstreams' (or 'root' to serve files, or 'status: true')")
            }
            if item.has("upstreams") && item.has("root") { item.report("route '\(path)' has both 'upstreams' and 'root'; choose one") }
            var route = RouteSettings(path: path, upstreams: upstreams)
            let upstreamPaths = Set(upstreams.map { HostAndPort.urlPath(of: $0) })
            if upstreamPaths.count > 1 {
                item.report("route '\(path)': its upstreams must all be host:port, or URLs with the same path (the route's path is replaced by it, as in Apache's ProxyPass)")
            } else if let upstreamPath = upstreamPaths.first ?? nil {
                if !upstreamPath.isEmpty && !isPlainRoutePath(upstreamPath) {
                    item.report("route '\(path)': the upstream URL's path '\(upstreamPath)' must be written plainly (no %, ?, #, ;, //, . or .. segments)")
                }
                route.upstreamPath = upstreamPath
            }
            route.root = root
            route.index = item.read("index", default: route.index, rule: "a list of file names",
                                    isValid: { $0.allSatisfy { !$0.isEmpty && !$0.contains("/") } })
            route.listDirectories = item.read("list_directories", default: route.listDirectories)
            route.precompressed = item.read("precompressed", default: route.precompressed)
            route.status = item.read("status", default: route.status)
            route.metrics = item.read("metrics", default: route.metrics)
            var access = item.section("access")
            route.access.localOnly = access.read("local_only", default: route.access.localOnly)
            let rangeRule = "a list of IP addresses or CIDR ranges, e.g. [\"192.168.0.0/24\"]"
            route.access.allow = access.read("allow", default: [], rule: rangeRule, isValid: { $0.allSatisfy { IPRange($0) != nil } })
            route.access.deny = access.read("deny", default: [], rule: rangeRule, isValid: { $0.allSatisfy { IPRange($0) != nil } })
            route.access.basicAuthFile = access.readOptional("basic_auth_file", rule: "an htpasswd file path", isValid: { !$0.isEmpty })
            route.access.basicAuthRealm = access.read("basic_auth_realm", default: route.access.basicAuthRealm,
                                                      rule: "text without quotes", isValid: { !$0.contains("\"") && !$0.isEmpty })
            route.access.satisfyAny = access.read("satisfy", default: "all", rule: "all or any",
                                                  isValid: { $0 == "all" || $0 == "any" }) == "any"
            access.finish()
            if (route.status || route.metrics) && route.access.isOpen && !item.has("access") {
                // The seed keeps server-status local: so does Portal unless told otherwise.
                route.access.localOnly = true
            }
            route.maxBodyBytes = item.readOptional("max_body_size", rule: ByteSize.expectation)
                .map { (size: ByteSize) in size.bytes }
            route.preserveHost = item.read("preserve_host", default: route.preserveHost)
            route.cache = readRouteCache(&item, path: path)
            item.finish()
            if !path.isEmpty && (!upstreams.isEmpty || root != nil || route.status || route.metrics) { site.routes.append(route) }
        }
        // A site whose routes all have errors of their own gets no second message.
        if site.routes.isEmpty && routeItems.isEmpty && !section.isEmpty {
            section.report("site '\(name)' needs at least one route, e.g. routes: [{path: /, upstreams: [\"127.0.0.1:9000\"]}]")
        }
        return name.isEmpty ? nil : site
    }

    /// `cache: true`, or `cache: {max_entry_size: 1m, default_ttl: 10m, stale_on_error: 1h}`.
    private static func readRouteCache(_ item: inout ConfigSection, path: String) -> RouteCacheSettings? {
        guard item.hasKey("cache") else { return nil }
        var cache: RouteCacheSettings?
        if item.holdsSection("cache") {
            var section = item.section("cache")
            var settings = RouteCacheSettings()
            settings.maxEntryBytes = section.read("max_entry_size", default: ByteSize(bytesValue: settings.maxEntryBytes),
                                                  rule: "a size from 1 byte to 1g, such as 1m",
                                                  isValid: { (1...(1 << 30)).contains($0.bytes) }).bytes
            settings.defaultTTLSeconds = section.read("default_ttl", default: DurationSeconds(seconds: 0),
                                                      rule: "a duration such as 0, 90s, 10m or 1h").seconds
            settings.staleOnErrorSeconds = section.read("stale_on_error", default: DurationSeconds(seconds: 0),
                                                        rule: "a duration such as 0, 10m or 1h").seconds
            section.finish()
            cache = settings
        } else if item.read("cache", default: false, rule: "true, false or a section with max_entry_size, default_ttl and stale_on_error") {
            cache = RouteCacheSettings()
        }
        if cache != nil && (item.hasKey("root") || item.hasKey("status") || item.hasKey("metrics")) {
            item.reportKey("cache", "applies to proxied routes only; route '\(path)' does not proxy")
        }
        return cache
    }

    /// `headers: {set: {…}, append: {…}, unset: […]}`.
    private static func readHeaderRules(_ section: inout ConfigSection) -> HeaderRules {
        var headers = section.section("headers")
        let rules = HeaderRules(
            set: headers.readHeaderMap("set").map { HeaderField(name: $0.0, value: $0.1) },
            append: headers.readHeaderMap("append").map { HeaderField(name: $0.0, value: $0.1) },
            unset: headers.readHeaderNames("unset"))
        headers.finish()
        return rules
    }

    static func isHSTS(_ value: String) -> Bool {
        value == "off" || (value.lowercased().hasPrefix("max-age=") && !value.contains(where: { $0 == "\r" || $0 == "\n" }))
    }

    private static func seconds(_ section: inout ConfigSection, _ key: String, _ value: Int) -> Int {
        section.read(key, default: value, rule: "seconds from 1 to 86400", isValid: isSeconds)
    }

    private static func count(_ section: inout ConfigSection, _ key: String, _ value: Int,
                              _ range: ClosedRange<Int>) -> Int {
        section.read(key, default: value, rule: "an integer from \(range.lowerBound) to \(range.upperBound)",
                     isValid: { range.contains($0) })
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
        let siteNames = edge.sites.map(\.name)
        for (index, name) in siteNames.enumerated() where siteNames[..<index].contains(name) {
            diagnostics.report("two sites are named '\(name)'", at: diagnostics.place("edge.sites[\(index)].name"))
        }
        for site in edge.sites {
            for route in site.routes {
                if let cache = route.cache, cache.maxEntryBytes > edge.cacheMemoryBytes {
                    diagnostics.report("site '\(site.name)', route \(route.path): cache.max_entry_size (\(cache.maxEntryBytes) bytes) "
                        + "is larger than edge.cache_memory (\(edge.cacheMemoryBytes) bytes), so nothing that size could be kept", at: nil)
                }
            }
        }
        var owners: [String: String] = [:]
        for (siteIndex, site) in edge.sites.enumerated() {
            for (hostIndex, host) in site.hosts.enumerated() {
                if let other = owners[host], other != site.name {
                    diagnostics.report("host '\(host)' belongs to both site '\(other)' and site '\(site.name)'",
                                       at: diagnostics.place("edge.sites[\(siteIndex)].hosts[\(hostIndex)]"))
                }
                owners[host] = site.name
            }
        }
        if let defaultSite = edge.defaultSite, !siteNames.contains(defaultSite), !edge.sites.isEmpty {
            diagnostics.report("edge.default_site '\(defaultSite)' is not the name of a site", at: nil)
        }
        if edge.requestHeaderMaxTimeoutSeconds < edge.requestHeaderTimeoutSeconds {
            diagnostics.report("edge.request_header_max_timeout must not be less than edge.request_header_timeout", at: nil)
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

    /// `address:port` with an IP literal address (`0.0.0.0:80`, `[::]:443`).
    static func isListener(_ value: String) -> Bool {
        guard let parsed = HostAndPort(value) else { return false }
        return IPAddress(parsed.host) != nil
    }

    /// A host name or a `*.` wildcard over one.
    /// A route path as requests are matched: `/`, then segments without encodings, queries,
    /// parameters, empty, `.` or `..` segments.
    static func isPlainRoutePath(_ value: String) -> Bool {
        guard value.hasPrefix("/"), !value.contains(where: { $0.isWhitespace || "%?#;\\".contains($0) }) else { return false }
        let segments = value.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for (index, segment) in segments.enumerated() {
            // Only the last segment may be empty (a trailing slash).
            if segment.isEmpty && index != segments.count - 1 { return false }
            if segment == "." || segment == ".." { return false }
        }
        return true
    }

    static func isHostPattern(_ value: String) -> Bool {
        if value == "*" { return true }
        if value.hasPrefix("*.") { return isHostName(String(value.dropFirst(2))) }
        return isHostName(value)
    }
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
        DatabaseURL(value) != nil
    }
}
