import Foundation
import NIOSSL
import PortalCore

/// A path prefix of a site and the upstreams its requests go to. A class, so handing the
/// matched route to each request is one reference rather than a copy of every field.
final class Route: Sendable {
    let path: String
    let upstreams: [HostAndPort]
    let maxBodyBytes: Int
    let preserveHost: Bool
    /// Set when the route serves files instead of proxying.
    let staticRoot: StaticRoot?
    /// Who may use the route; nil when anyone may.
    let access: AccessPolicy?
    /// The route answers with the status page.
    let isStatus: Bool
    /// The route answers with the Prometheus metrics.
    let isMetrics: Bool
    /// Set when the route keeps upstream responses and answers from them.
    let cache: RouteCache?
    /// Replaces the route's path on the way to the upstream (`ProxyPass /api/ http://host/`).
    let upstreamPath: String?
    /// Picks the upstream of each request.
    let balancer: UpstreamBalancer

    init(path: String, upstreams: [HostAndPort], maxBodyBytes: Int, preserveHost: Bool, upstreamPath: String? = nil,
         staticRoot: StaticRoot? = nil, access: AccessPolicy? = nil, isStatus: Bool = false, isMetrics: Bool = false,
         cache: RouteCache? = nil) {
        self.path = path
        self.upstreams = upstreams
        self.maxBodyBytes = maxBodyBytes
        self.preserveHost = preserveHost
        self.upstreamPath = upstreamPath
        self.staticRoot = staticRoot
        self.access = access
        self.isStatus = isStatus
        self.isMetrics = isMetrics
        self.cache = cache
        self.balancer = UpstreamBalancer(addresses: upstreams)
    }

    /// `target` (in normal form, under this route) as the upstream is to receive it.
    func upstreamTarget(for target: String) -> String {
        guard let upstreamPath else { return target }
        let remainder = target.dropFirst(Self.trimmed(path).count)
        // The route's own root (`/strip`, `/strip?q`) maps to the upstream path as written
        // (`/inner/`), as Apache's ProxyPass and nginx's proxy_pass do.
        let base = remainder.isEmpty || remainder.hasPrefix("?") ? Substring(upstreamPath) : Self.trimmed(upstreamPath)
        let mapped = String(base + remainder)
        return mapped.hasPrefix("/") ? mapped : "/" + mapped
    }

    /// An upstream's own path (`/x` of `http://upstream/x`) as the client sees it, for
    /// `Location` rewriting; nil when it lies outside what this route maps.
    func publicPath(forUpstreamPath upstreamTarget: Substring) -> String? {
        guard let upstreamPath else { return String(upstreamTarget) }
        let base = Self.trimmed(upstreamPath)
        guard upstreamTarget.hasPrefix(base) else { return nil }
        let remainder = upstreamTarget.dropFirst(base.count)
        guard remainder.isEmpty || remainder.hasPrefix("/") || remainder.hasPrefix("?") else { return nil }
        let mapped = String(Self.trimmed(path) + remainder)
        return mapped.hasPrefix("/") ? mapped : "/" + mapped
    }

    /// A path without its final slash (`/` becomes empty), for joining.
    private static func trimmed(_ path: String) -> Substring {
        path.hasSuffix("/") ? path.dropLast() : Substring(path)
    }

    /// True when `path` is this route's prefix at a segment boundary (`/api` matches `/api/x`, not
    /// `/apix`); `;` starts path parameters, so `/api;v=1` is `/api` too (as Java servers read it).
    func matches(_ requestPath: Substring) -> Bool {
        let request = requestPath.utf8
        let prefix = path.utf8
        guard request.starts(with: prefix) else { return false }
        if prefix.last == UInt8(ascii: "/") || request.count == prefix.count { return true }
        let next = request[request.index(request.startIndex, offsetBy: prefix.count)]
        return next == UInt8(ascii: "/") || next == UInt8(ascii: "?") || next == UInt8(ascii: ";")
    }
}

/// One site (virtual host) as the edge serves it.
final class Site: @unchecked Sendable {
    // @unchecked: `certificateNotAfter` is set once while the runtime is being built, before the
    // site is shared with any event loop; every other property is a `let`.
    let name: String
    let hosts: [String]
    /// The name used in redirects when the request's own host cannot be used.
    let primaryHost: String
    let redirectToHTTPS: Bool
    let canonicalHost: String?
    /// `%2F` in a path is kept encoded rather than refused (`allow_encoded_slashes`).
    let allowEncodedSlashes: Bool
    /// Longest path first, so the first match is the longest prefix.
    let routes: [Route]
    let tlsContext: NIOSSLContext?
    /// When the site's certificate expires (nil without one).
    var certificateNotAfter: Date? = nil
    let accessLog: AccessLog?
    /// Response headers on HTTPS and on plain HTTP listeners.
    let httpsHeaders: HeaderPolicy
    let httpHeaders: HeaderPolicy

    init(name: String, hosts: [String], primaryHost: String, redirectToHTTPS: Bool, canonicalHost: String?,
         allowEncodedSlashes: Bool = false, routes: [Route], tlsContext: NIOSSLContext?, accessLog: AccessLog?,
         httpsHeaders: HeaderPolicy, httpHeaders: HeaderPolicy) {
        self.allowEncodedSlashes = allowEncodedSlashes
        self.httpsHeaders = httpsHeaders
        self.httpHeaders = httpHeaders
        self.name = name
        self.hosts = hosts
        self.primaryHost = primaryHost
        self.redirectToHTTPS = redirectToHTTPS
        self.canonicalHost = canonicalHost
        self.routes = routes.sorted { $0.path.count > $1.path.count }
        self.tlsContext = tlsContext
        self.accessLog = accessLog
    }

    func headers(tls: Bool) -> HeaderPolicy {
        tls ? httpsHeaders : httpHeaders
    }

    func route(for uri: String) -> Route? {
        let end = uri.utf8.firstIndex(of: UInt8(ascii: "?")) ?? uri.endIndex
        let path = uri[..<end]
        return routes.first { $0.matches(path) }
    }
}

/// Finds the site for a host name: exact names first, then the longest `*.` wildcard, then the default.
struct SiteRouter: Sendable {
    private let exact: [String: Site]
    /// (suffix including the leading dot, site), longest suffix first.
    private let wildcards: [(String, Site)]
    let defaultSite: Site?
    /// A site that takes every host (the implicit site when no sites are configured).
    private let catchAll: Site?

    init(sites: [Site], defaultSite: Site?) {
        var exact: [String: Site] = [:]
        var wildcards: [(String, Site)] = []
        var catchAll: Site?
        for site in sites {
            for host in site.hosts {
                if host == "*" {
                    catchAll = site
                } else if host.hasPrefix("*.") {
                    wildcards.append((String(host.dropFirst()), site))
                } else if exact[host] == nil {
                    exact[host] = site
                }
            }
        }
        self.exact = exact
        self.wildcards = wildcards.sorted { $0.0.count > $1.0.count }
        self.defaultSite = defaultSite ?? catchAll
        self.catchAll = catchAll
    }

    /// The site for `host` (already lower-cased, without port), or the default site, or nil.
    func site(for host: String?) -> Site? {
        guard let host else { return defaultSite }
        if let site = exact[host] { return site }
        for (suffix, site) in wildcards where host.hasSuffix(suffix) && host.count > suffix.count {
            return site
        }
        return catchAll ?? defaultSite
    }

    /// The site whose certificate to present for an SNI name.
    func tlsSite(for serverName: String?) -> Site? {
        // A fully qualified name may end with a dot (`b.test.`): the same host.
        guard var name = serverName?.lowercased() else { return site(for: nil) }
        if name.hasSuffix(".") { name.removeLast() }
        return site(for: name)
    }
}
