import Foundation
@testable import PortalCore
import PortalTestSupport
import Testing

@Suite("Configuration file and environment")
struct ConfigurationLoaderTests {
    @Test("no file gives the embedded defaults")
    func defaults() throws {
        let configuration = try ConfigurationLoader.load(file: nil, environment: [:])
        #expect(configuration == PortalConfiguration())
        #expect(configuration.app.host == "127.0.0.1")
        #expect(configuration.app.port == 9000)
        #expect(configuration.edge.httpPort == 8080)
        #expect(configuration.edge.httpsPort == 8443)
        #expect(configuration.edge.proxyTimeoutSeconds == 300)
        #expect(configuration.edge.keepAliveTimeoutSeconds == 5)
        #expect(configuration.edge.maxKeepAliveRequests == 100)
        #expect(configuration.app.trustedProxyCount == 1)
    }

    @Test("a complete file is read")
    func goodFile() throws {
        let yaml = """
            data_dir: /var/lib/portal
            app:
              port: 9100
              trusted_proxies: ["127.0.0.1", "10.0.0.0/8"]
              trusted_proxy_count: 2
            edge:
              listen: ["0.0.0.0", "::"]
              http_port: 80
              https_port: 443
              server_name: portal.example.com.br
              upstreams: ["127.0.0.1:9100", "[::1]:9101"]
              proxy_timeout: 600
            database:
              url: sqlite:///var/lib/portal/portal.sqlite
            log:
              level: debug
            """
        let configuration = try ConfigurationLoader.parse(yaml: yaml, source: "portal.yaml")
        #expect(configuration.dataDirectory == "/var/lib/portal")
        #expect(configuration.app.port == 9100)
        #expect(configuration.app.trustedProxies == ["127.0.0.1", "10.0.0.0/8"])
        #expect(configuration.app.trustedProxyCount == 2)
        #expect(configuration.edge.listen == ["0.0.0.0", "::"])
        #expect(configuration.edge.httpPort == 80)
        #expect(configuration.edge.serverName == "portal.example.com.br")
        #expect(configuration.edge.upstreams == ["127.0.0.1:9100", "[::1]:9101"])
        #expect(configuration.edge.proxyTimeoutSeconds == 600)
        #expect(configuration.database.url == "sqlite:///var/lib/portal/portal.sqlite")
        #expect(configuration.log.level == "debug")
    }

    @Test("an unknown key is an error with its line and a suggestion")
    func unknownKey() throws {
        let yaml = """
            edge:
              http_port: 8080
              htps_port: 8443
            """
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(yaml: yaml, source: "portal.yaml")
        }
        #expect(error.issues.count == 1)
        let issue = try #require(error.issues.first)
        #expect(issue.line == 3)
        #expect(issue.description.hasPrefix("portal.yaml:3:3: "))
        #expect(issue.message.contains("unknown key 'edge.htps_port'"))
        #expect(issue.message.contains("did you mean 'edge.https_port'"))
    }

    @Test("a bad entry of a list is named, with its own line; an invalid IPv4 address is not taken for a host name")
    func badListEntries() throws {
        let yaml = """
            edge:
              sites:
                - name: s1
                  hosts: [s1.test]
                  routes:
                    - path: /
                      upstreams: ["127.0.0.1:9000", "256.1.1.1:80"]
                      access:
                        allow: ["10.0.0.0/8", "10.0.0.0/33"]
            """
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(yaml: yaml, source: "portal.yaml")
        }
        let messages = error.issues.map(\.description)
        #expect(error.issues.count == 2, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("portal.yaml:7:") && $0.contains("upstreams[1]' is '256.1.1.1:80'") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("portal.yaml:9:") && $0.contains("allow[1]' is '10.0.0.0/33'") }, "\(messages)")
        #expect(!messages.contains { $0.contains("needs at least one route") })
        #expect(HostAndPort("256.1.1.1:80") == nil)
        #expect(HostAndPort("bad host:80") == nil)
        #expect(HostAndPort("app_1:9000") != nil)
        #expect(HostAndPort("[::1]:9000") != nil)
    }

    @Test("a key given twice is named at its second line, and the rest of the file is still checked")
    func duplicateKeys() throws {
        let yaml = """
            edge:
              http_port: 8080
              drain_timeout: 5
              drain_timeout: 9
              bogus_key: 1
              sites:
                - name: s1
                  hosts: [s1.test]
                  routes:
                    - path: /
                      upstreams: ["127.0.0.1:9000"]
                  routes:
                    - path: /other
                      upstreams: ["127.0.0.1:9001"]
                  redirect_to_https: maybe
            """
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(yaml: yaml, source: "portal.yaml")
        }
        let messages = error.issues.map(\.description)
        #expect(messages.contains { $0.hasPrefix("portal.yaml:4:3: duplicate key 'drain_timeout': it is also set at line 3") },
                "\(messages)")
        #expect(messages.contains { $0.hasPrefix("portal.yaml:12:7: duplicate key 'routes': it is also set at line 9") },
                "\(messages)")
        #expect(messages.contains { $0.hasPrefix("portal.yaml:5:") && $0.contains("unknown key 'edge.bogus_key'") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("portal.yaml:15:") && $0.contains("redirect_to_https") }, "\(messages)")
        #expect(error.issues.map { $0.line ?? 0 } == error.issues.map { $0.line ?? 0 }.sorted(), "in file order")
        // A flow mapping has no lines to point at: the parser's own report stands.
        let flow = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(yaml: "edge: {http_port: 1, http_port: 2}\n", source: "f.yaml")
        }
        #expect(flow.issues.first?.message.contains("http_port") == true, "\(flow.issues)")
    }

    @Test("two routes with one path: the second is named at its own line")
    func duplicateRoutePath() throws {
        let yaml = """
            edge:
              sites:
                - name: s1
                  hosts: [s1.test]
                  routes:
                    - path: /api/
                      upstreams: ["127.0.0.1:9000"]
                    - path: /
                      upstreams: ["127.0.0.1:9000"]
                    - path: /api/
                      upstreams: ["127.0.0.1:9001"]
            """
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(yaml: yaml, source: "portal.yaml")
        }
        let messages = error.issues.map(\.description)
        #expect(messages == ["portal.yaml:10:17: site 's1' has two routes with the path '/api/' (the other is at line 6); "
                             + "only one of them would ever be used"], "\(messages)")
    }

    @Test("an unknown section is an error")
    func unknownSection() throws {
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(yaml: "proxy:\n  port: 1\n", source: "p.yaml")
        }
        #expect(error.issues.first?.line == 1)
        #expect(error.issues.first?.message.contains("unknown key 'proxy'") == true)
    }

    @Test("wrong types are errors naming the expectation", arguments: [
        ("edge:\n  http_port: \"eighty\"\n", 2, "edge.http_port' must be a port number"),
        ("edge:\n  http_port: 70000\n", 2, "edge.http_port' must be a port number"),
        ("edge:\n  http_port: \"8080\"\n", 2, "got the quoted text '8080' (write it without quotes)"),
        ("app:\n  allow_public_bind: maybe\n", 2, "app.allow_public_bind' must be true or false"),
        ("app:\n  trusted_proxies: 127.0.0.1\n", 2, "app.trusted_proxies' must be a list"),
        ("app:\n  trusted_proxies: [\"not-an-ip\"]\n", 2, "app.trusted_proxies' must be a list"),
        ("edge:\n  upstreams: [\"127.0.0.1\"]\n", 2, "edge.upstreams' must be a list of host:port"),
        ("log:\n  level: loud\n", 2, "log.level' must be one of"),
        ("app:\n  requests_per_minute_per_client: -1\n", 2, "app.requests_per_minute_per_client' must be a number of requests"),
        ("edge: 5\n", 1, "'edge' must be a section of keys"),
        ("app:\n  api_requests_per_minute_per_token: x\n", 2, "app.api_requests_per_minute_per_token' must be a number"),
        ("app:\n  google:\n    issuer: http://accounts.example.com\n", 3, "app.google.issuer' must be an https:// URL"),
        ("app:\n  google:\n    client_id: \"a b\"\n", 3, "app.google.client_id' must be the OAuth client id"),
        ("app:\n  google:\n    allowed_domains: [\"ana@x.com\"]\n", 3, "app.google.allowed_domains' must be a list of domain names"),
        ("app:\n  google:\n    client_secret: abc\n", 3, "app.google.client_secret' does not belong in the configuration file"),
        ("database:\n  url: mongodb://x@h/db\n", 2, "database.url' must be a database URL"),
        ("app:\n  google:\n    create_users: true\n", 3, "app.google.create_users' needs allowed_domains"),
        ("database:\n  pool_size: 0\n", 2, "database.pool_size' must be a number of connections"),
        ("database:\n  pool_recycle: -5\n", 2, "database.pool_recycle' must be a number of seconds"),
        ("database:\n  backup_schedule: hourly\n", 2, "database.backup_schedule' must be off or daily"),
        ("database:\n  backup_time: \"2:30\"\n", 2, "database.backup_time' must be a time of day"),
        ("edge:\n  cache_memory: lots\n", 2, "edge.cache_memory' must be a size"),
        ("edge:\n  cache_memory: 0\n", 2, "edge.cache_memory' must be a size of at least 1m"),
        (ConfigurationLoaderTests.cachedRoute + "          cache: sometimes\n", 8, "cache' must be true, false or a section"),
        (ConfigurationLoaderTests.cachedRoute + "          cache:\n            default_ttl: forever\n", 9, "cache.default_ttl' must be a duration"),
        (ConfigurationLoaderTests.cachedRoute + "          cache:\n            max_entry_size: 0\n", 9, "cache.max_entry_size' must be a size from 1 byte"),
        (ConfigurationLoaderTests.cachedRoute + "          cache:\n            max_age: 5\n", 9, "unknown key"),
        ("edge:\n  sites:\n    - name: s\n      hosts: [\"*\"]\n      routes:\n        - path: /\n          root: /tmp\n          cache: true\n",
         8, "applies to proxied routes only"),
    ])
    func wrongTypes(yaml: String, line: Int, message: String) throws {
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(yaml: yaml, source: "portal.yaml")
        }
        let issue = try #require(error.issues.first)
        #expect(issue.line == line)
        #expect(issue.message.contains(message), "\(issue.message)")
    }

    /// A site with one proxied route, for appending the route's `cache` key.
    static let cachedRoute = "edge:\n  sites:\n    - name: s\n      hosts: [\"*\"]\n      routes:\n        - path: /\n"
        + "          upstreams: [\"127.0.0.1:9000\"]\n"

    @Test("route caches: a switch or a section with its limits")
    func routeCache() throws {
        let yaml = """
            edge:
              cache_memory: 128m
              sites:
                - name: s
                  hosts: ["*"]
                  routes:
                    - path: /
                      upstreams: ["127.0.0.1:9000"]
                      cache: true
                    - path: /api/
                      upstreams: ["127.0.0.1:9000"]
                      cache: {max_entry_size: 2m, default_ttl: 10m, stale_on_error: 1h}
                    - path: /live/
                      upstreams: ["127.0.0.1:9000"]
                      cache: false
            """
        let configuration = try ConfigurationLoader.parse(yaml: yaml, source: "portal.yaml")
        #expect(configuration.edge.cacheMemoryBytes == 128 * 1024 * 1024)
        let routes = try #require(configuration.edge.sites.first?.routes)
        #expect(routes[0].cache == RouteCacheSettings())
        #expect(routes[1].cache?.maxEntryBytes == 2 * 1024 * 1024)
        #expect(routes[1].cache?.defaultTTLSeconds == 600)
        #expect(routes[1].cache?.staleOnErrorSeconds == 3_600)
        #expect(routes[0].cache?.staleOnErrorSeconds == 0)
        #expect(routes[2].cache == nil)
    }

    @Test("a route cache entry larger than the whole cache is an error")
    func cacheEntryLargerThanCache() throws {
        let yaml = ConfigurationLoaderTests.cachedRoute.replacingOccurrences(of: "edge:\n", with: "edge:\n  cache_memory: 2m\n")
            + "          cache: {max_entry_size: 8m}\n"
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(yaml: yaml, source: "portal.yaml")
        }
        #expect(error.issues.contains { $0.message.contains("cache.max_entry_size (8388608 bytes) is larger than edge.cache_memory") })
    }

    @Test("every error is reported, not only the first")
    func allErrors() throws {
        let yaml = """
            edge:
              http_port: x
              https_port: y
            app:
              colour: blue
            """
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(yaml: yaml, source: "portal.yaml")
        }
        #expect(error.issues.map(\.line) == [2, 3, 5])
    }

    @Test("a YAML syntax error names its line")
    func syntaxError() throws {
        let yaml = "edge:\n  http_port: 8080\n  https_port: [8443\n"
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(yaml: yaml, source: "broken.yaml")
        }
        let issue = try #require(error.issues.first)
        #expect(issue.source == "broken.yaml")
        #expect(issue.line != nil)
        #expect(issue.message.contains("YAML syntax error"))
    }

    @Test("a duplicate key is an error")
    func duplicateKey() throws {
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(yaml: "edge:\n  http_port: 80\n  http_port: 81\n", source: "d.yaml")
        }
        #expect(error.issues.contains { $0.message.contains("duplicate") })
    }

    @Test("Google sign-in settings: off by default, read from the file, loopback http allowed for a local provider")
    func googleSettings() throws {
        #expect(try ConfigurationLoader.parse(yaml: "", source: "p.yaml").app.google.isEnabled == false)
        let configuration = try ConfigurationLoader.parse(yaml: """
            app:
              google:
                client_id: 1234-abc.apps.googleusercontent.com
                allowed_domains: [jpcontabil.com.br]
                create_users: true
            """, source: "p.yaml")
        #expect(configuration.app.google.isEnabled)
        #expect(configuration.app.google.issuer == "https://accounts.google.com")
        #expect(configuration.app.google.allowedDomains == ["jpcontabil.com.br"])
        #expect(configuration.app.google.createUsers)
        let local = try ConfigurationLoader.parse(yaml: "app:\n  google:\n    issuer: http://127.0.0.1:5556\n", source: "p.yaml")
        #expect(local.app.google.issuer == "http://127.0.0.1:5556")
    }

    @Test("environment variables override the file")
    func environmentOverrides() throws {
        let configuration = try ConfigurationLoader.parse(
            yaml: "edge:\n  http_port: 80\n", source: "p.yaml",
            environment: ["PORTAL_EDGE_HTTP_PORT": "8081", "PORTAL_APP_TRUSTED_PROXIES": "127.0.0.1, 10.1.0.0/16",
                          "PORTAL_DATA_DIR": "/srv/portal", "PORTAL_APP_REQUESTS_PER_MINUTE_PER_CLIENT": "0"])
        #expect(configuration.edge.httpPort == 8081)
        #expect(configuration.app.requestsPerMinutePerClient == 0)
        #expect(configuration.app.trustedProxies == ["127.0.0.1", "10.1.0.0/16"])
        #expect(configuration.dataDirectory == "/srv/portal")
    }

    @Test("a bad or unknown environment variable is an error")
    func badEnvironment() throws {
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(yaml: "", source: "p.yaml",
                                          environment: ["PORTAL_EDGE_HTTPS_PORT": "abc", "PORTAL_EDGE_COLOUR": "red",
                                                        "PORTAL_EDGE_DRAIN_TIMOUT": "5"])
        }
        #expect(error.issues.count == 3)
        #expect(error.issues.contains { $0.message.contains("PORTAL_EDGE_DRAIN_TIMOUT: not a configuration setting")
            && $0.message.hasSuffix("did you mean PORTAL_EDGE_DRAIN_TIMEOUT?") }, "\(error.issues)")
        #expect(error.issues.contains { $0.source == "environment" && $0.message.contains("PORTAL_EDGE_HTTPS_PORT") })
        #expect(error.issues.contains { $0.message.contains("PORTAL_EDGE_COLOUR: not a configuration setting") })
    }

    @Test("secret variables are not mistaken for settings")
    func secretVariablesAllowed() throws {
        _ = try ConfigurationLoader.parse(yaml: "", source: "p.yaml",
                                          environment: ["PORTAL_SECRET_SESSION": "x", "PORTAL_SECRET_SESSION_FILE": "/f"])
    }

    @Test("the app refuses a public address unless allowed")
    func publicBind() throws {
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(yaml: "app:\n  host: 0.0.0.0\n", source: "p.yaml")
        }
        #expect(error.issues.first?.message.contains("allow_public_bind") == true)
        let allowed = try ConfigurationLoader.parse(yaml: "app:\n  host: 0.0.0.0\n  allow_public_bind: true\n",
                                                    source: "p.yaml")
        #expect(allowed.app.host == "0.0.0.0")
    }

    @Test("certificate and key go together; ports must differ")
    func crossFieldRules() throws {
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(yaml: "edge:\n  certificate_file: /c.pem\n  http_port: 9000\n",
                                          source: "p.yaml")
        }
        #expect(error.issues.contains { $0.message.contains("must be given together") })
        #expect(error.issues.contains { $0.message.contains("app.port 9000 is also an edge port") })
    }

    @Test("a missing file is a clear error")
    func missingFile() throws {
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(file: "/nonexistent/portal.yaml", environment: [:])
        }
        #expect(error.description.hasPrefix("/nonexistent/portal.yaml: cannot read the configuration file"))
    }

    @Test("a file on disk is loaded")
    func fileOnDisk() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("portal.yaml")
        try "app:\n  port: 9555\n".write(toFile: path, atomically: true, encoding: .utf8)
        let configuration = try ConfigurationLoader.load(file: path, environment: [:])
        #expect(configuration.app.port == 9555)
    }

    @Test("upstreams written as Apache ProxyPass URLs give the route an upstream path; mixed forms are refused")
    func upstreamURLs() throws {
        func route(_ upstreams: String, path: String = "/api") throws -> RouteSettings {
            let yaml = """
                edge:
                  sites:
                    - name: p
                      hosts: ["*"]
                      routes: [{path: \(path), upstreams: \(upstreams)}]
                """
            return try ConfigurationLoader.parse(yaml: yaml, source: "p.yaml").edge.sites[0].routes[0]
        }
        #expect(try route(#"["http://127.0.0.1:3000/"]"#).upstreamPath == "/")
        #expect(try route(#"["http://127.0.0.1:3000/v1/", "http://127.0.0.1:3001/v1/"]"#).upstreamPath == "/v1/")
        #expect(try route(#"["http://127.0.0.1:3000"]"#).upstreamPath == "")
        #expect(try route(#"["127.0.0.1:3000"]"#).upstreamPath == nil)
        #expect(HostAndPort("http://127.0.0.1:3000/v1/") == HostAndPort(host: "127.0.0.1", port: 3000))
        #expect(throws: ConfigurationError.self) { try route(#"["http://127.0.0.1:3000/", "127.0.0.1:3001"]"#) }
        #expect(throws: ConfigurationError.self) { try route(#"["http://127.0.0.1:3000/a/../b"]"#) }
        // The edge-wide list feeds the implicit `/` route: a path there would be ignored, so it is refused.
        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(yaml: "edge:\n  upstreams: [\"http://127.0.0.1:9000/app/\"]\n", source: "p.yaml")
        }
        #expect(try ConfigurationLoader.parse(yaml: "edge:\n  upstreams: [\"http://127.0.0.1:9000/\"]\n", source: "p.yaml")
            .edge.upstreams == ["http://127.0.0.1:9000/"])
    }

    @Test("sites, routes and limits are read")
    func sites() throws {
        let yaml = """
            edge:
              max_body_size: 10MB
              max_connections: 500
              access_log_format: json
              default_site: portal
              sites:
                - name: portal
                  hosts: [portal.jpcontabil.com.br, "*.jpcontabil.com.br"]
                  canonical_host: portal.jpcontabil.com.br
                  routes:
                    - path: /
                      upstreams: ["127.0.0.1:9000"]
                    - path: /api/
                      upstreams: ["127.0.0.1:3000", "127.0.0.1:3001"]
                      max_body_size: 512k
                      preserve_host: false
                - name: blog
                  hosts: [blog.jpcontabil.com.br]
                  redirect_to_https: false
                  allow_encoded_slashes: true
                  routes: [{path: /, upstreams: ["127.0.0.1:8081"]}]
            """
        let configuration = try ConfigurationLoader.parse(yaml: yaml, source: "p.yaml")
        let edge = configuration.edge
        #expect(edge.maxBodyBytes == 10 * 1024 * 1024)
        #expect(edge.maxConnections == 500)
        #expect(edge.accessLogFormat == "json")
        #expect(edge.defaultSite == "portal")
        #expect(edge.sites.count == 2)
        #expect(edge.sites[0].hosts == ["portal.jpcontabil.com.br", "*.jpcontabil.com.br"])
        #expect(edge.sites[0].routes[1].upstreams == ["127.0.0.1:3000", "127.0.0.1:3001"])
        #expect(edge.sites[0].routes[1].maxBodyBytes == 512 * 1024)
        #expect(edge.sites[0].routes[1].preserveHost == false)
        #expect(edge.sites[1].redirectToHTTPS == false)
        #expect(edge.sites[0].allowEncodedSlashes == false)
        #expect(edge.sites[1].allowEncodedSlashes == true)
    }

    @Test("site mistakes are reported where they are", arguments: [
        ("edge:\n  sites:\n    - hosts: [a.test]\n      routes: [{path: /, upstreams: [\"127.0.0.1:1\"]}]\n", "a site needs a 'name'"),
        ("edge:\n  sites:\n    - name: a\n      hosts: [a.test]\n", "needs at least one route"),
        ("edge:\n  sites:\n    - name: a\n      hosts: [a.test]\n      routes: [{path: api, upstreams: [\"127.0.0.1:1\"]}]\n", "must be a path starting with /"),
        ("edge:\n  sites:\n    - name: a\n      hosts: [a.test]\n      routes: [{path: /, upstreams: [\"127.0.0.1:1\"], colour: red}]\n", "unknown key 'edge.sites[0].routes[0].colour'"),
        ("edge:\n  sites: {name: a}\n", "must be a list of sections"),
        ("edge:\n  default_site: nope\n  sites:\n    - name: a\n      hosts: [a.test]\n      routes: [{path: /, upstreams: [\"127.0.0.1:1\"]}]\n", "'nope' is not the name of a site"),
        ("edge:\n  max_body_size: lots\n", "must be a size"),
        ("edge:\n  unknown_host_status: 500\n", "421 or 404"),
    ])
    func siteErrors(yaml: String, message: String) throws {
        let error = try #require(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(yaml: yaml, source: "p.yaml")
        }
        #expect(error.issues.contains { $0.message.contains(message) }, "\(error)")
    }
}

@Suite("Route paths in the file")
struct RoutePathRuleTests {
    @Test("a route path must be written as requests are matched", arguments: [
        ("/", true), ("/api", true), ("/static/", true), ("/~user/", true),
        ("api", false), ("/a//b", false), ("/a/./b", false), ("/a/../b", false), ("/%7Euser", false),
        ("/a;b", false), ("/a?b", false), ("/a#b", false), ("/a b", false),
    ])
    func plainPaths(_ path: String, _ valid: Bool) {
        #expect(ConfigurationSchema.isPlainRoutePath(path) == valid, "\(path)")
    }
}
