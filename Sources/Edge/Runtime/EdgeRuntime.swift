import Foundation
import NIOCore
import NIOSSL
public import PortalCore

/// Everything the edge serves with, resolved and checked from a configuration: listeners,
/// sites with their TLS contexts and routes, limits and logs. Immutable; a reload builds a new
/// one and swaps it in, so requests in flight keep the settings they started with.
public final class EdgeRuntime: Sendable {
    public let settings: EdgeSettings
    public let listeners: [Listener]
    let sites: [Site]
    let router: SiteRouter
    /// Context for handshakes whose SNI names no site (or that send none).
    let fallbackTLSContext: NIOSSLContext?
    let accessLog: AccessLog?
    /// Problems worth telling the operator that do not stop the edge.
    public let warnings: [String]
    /// The HTTPS port used in redirects.
    let redirectHTTPSPort: Int
    /// Headers for answers given before a site is known (bad requests, unknown hosts).
    let defaultHTTPSHeaders: HeaderPolicy
    let defaultHTTPHeaders: HeaderPolicy
    /// The upstream responses kept for routes with `cache`; nil when no route caches.
    let responseCache: ResponseCache?
    /// The configuration this runtime was built from (rebuilt from it when new OCSP answers arrive).
    let configuration: PortalConfiguration
    /// Served certificates whose OCSP answers the edge fetches, and where it keeps them.
    let ocspSubjects: [OCSPSubject]
    let ocspCache: OCSPStapleCache
    /// Every upstream address a route of this configuration sends requests to.
    let upstreamAddresses: Set<String>

    init(configuration: PortalConfiguration, listeners: [Listener], sites: [Site], router: SiteRouter,
         fallbackTLSContext: NIOSSLContext?, accessLog: AccessLog?, warnings: [String],
         responseCache: ResponseCache?, ocspSubjects: [OCSPSubject], ocspCache: OCSPStapleCache) {
        self.responseCache = responseCache
        self.configuration = configuration
        self.ocspSubjects = ocspSubjects
        self.ocspCache = ocspCache
        var settings = configuration.edge
        // Images, archives and other compressed formats are never compressed again, even when
        // listed (`portal check` warns about them).
        settings.compressTypes.removeAll(where: MediaTypes.isAlreadyCompressed)
        self.settings = settings
        self.listeners = listeners
        self.sites = sites
        self.router = router
        self.upstreamAddresses = Set(sites.flatMap { $0.routes.flatMap { $0.upstreams.map(\.description) } })
        self.fallbackTLSContext = fallbackTLSContext
        self.accessLog = accessLog
        self.warnings = warnings
        self.redirectHTTPSPort = listeners.first(where: \.tls)?.port ?? settings.httpsPort
        self.defaultHTTPSHeaders = HeaderPolicy(edge: settings, site: nil, tls: true)
        self.defaultHTTPHeaders = HeaderPolicy(edge: settings, site: nil, tls: false)
    }

    /// Builds the runtime for `configuration`, loading and checking every certificate; throws
    /// `EdgeConfigurationError` listing every problem that prevents serving.
    /// With `checkOnly`, log files are not opened and a development certificate that `portal up`
    /// has not made yet is not an error.
    public static func resolve(_ configuration: PortalConfiguration, checkOnly: Bool = false) throws -> EdgeRuntime {
        let openLogs = !checkOnly
        let edge = configuration.edge
        let dataDirectory = DataDirectory(configuration.dataDirectory)
        var errors: [String] = []
        var warnings: [String] = []
        let siteSettings = edge.sites.isEmpty ? [implicitSite(configuration)] : edge.sites
        let listeners = Listener.all(from: edge)
        let needsTLS = listeners.contains(where: \.tls)
        if listeners.isEmpty {
            errors.append("the edge has no listeners: http_listeners and https_listeners are both empty")
        }
        warnings += listenerWarnings(edge)
        if !edge.sites.isEmpty, edge.certificateFile != nil {
            warnings.append("edge.certificate_file and edge.key_file are not used once sites are configured: "
                + "give each HTTPS site its own certificate_file and key_file")
        }
        if let both = Set(listeners.filter(\.tls).map { "\(HostAndPort(host: $0.address, port: $0.port))" })
            .intersection(listeners.filter { !$0.tls }.map { "\(HostAndPort(host: $0.address, port: $0.port))" }).sorted().first {
            errors.append("\(both) is both an HTTP and an HTTPS listener; one port can serve only one of them")
        }
        let compressed = edge.compressTypes.filter(MediaTypes.isAlreadyCompressed)
        if edge.compression, !compressed.isEmpty {
            warnings.append("compress_types names formats that are compressed already (\(compressed.joined(separator: ", "))); "
                + "they are never compressed again, so remove them from the list")
        }

        // One store for every caching route, within `cache_memory`; a reload starts an empty one.
        let responseCache = siteSettings.contains(where: { $0.routes.contains { $0.cache != nil } })
            ? ResponseCache(capacity: edge.cacheMemoryBytes) : nil
        var sites: [Site] = []
        // Sites naming the same certificate files share one TLS context, so a connection set up
        // for one of them may carry requests for the others (see the 421 check in ProxyHandler).
        var contexts: [String: NIOSSLContext] = [:]
        var ocspSubjects: [OCSPSubject] = []
        let ocspCache = OCSPStapleCache(dataDirectory: dataDirectory)
        for site in siteSettings {
            var context: NIOSSLContext?
            var notAfter: Date?
            if needsTLS {
                do {
                    let files = try certificateFiles(for: site, dataDirectory: dataDirectory,
                                                     allowMissingDevelopment: checkOnly)
                    if files == nil {
                        // Only a check gets here: say what starting would run into.
                        let development = DevelopmentCertificate(directory: dataDirectory.tlsDirectory).certificateFile
                        warnings.append("site '\(site.name)': no certificate yet: `portal up` makes the development "
                            + "certificate (\(development)) on its first start, but `portal edge` alone will not start "
                            + "without it; set certificate_file and key_file")
                    }
                    if let files {
                        let identity = [files.certificate, files.key, files.chain ?? "",
                                        site.ocspResponseFile ?? ""].joined(separator: "\u{0}")
                        let stapling = OCSPStaplingOptions(enabled: edge.ocspStapling, cache: ocspCache,
                                                           responseFile: site.ocspResponseFile)
                        let subject: OCSPSubject?
                        var siteErrors: [String] = []
                        var siteWarnings: [String] = []
                        defer {
                            // The inspector's findings concern the certificate file or the chain file.
                            errors += siteErrors.map {
                                Self.placed($0, setting: $0.hasPrefix("chain file") ? "chain_file" : "certificate_file", site: site)
                            }
                            warnings += siteWarnings.map {
                                Self.placed($0, setting: $0.hasPrefix("chain file") ? "chain_file" : "certificate_file", site: site)
                            }
                        }
                        (context, notAfter, subject) = try loadContext(
                            files: files, hosts: site.hosts, errors: &siteErrors, warnings: &siteWarnings, http2: edge.http2,
                            preferServerCiphers: edge.tlsPreferServerCiphers, stapling: stapling)
                        if let subject, subject.responderURL != nil, site.ocspResponseFile == nil,
                           !ocspSubjects.contains(subject) {
                            ocspSubjects.append(subject)
                        }
                        if let shared = contexts[identity] {
                            context = shared
                        } else if let context {
                            contexts[identity] = context
                        }
                    }
                } catch {
                    errors.append(Self.placed("\(error)", setting: (error as? TLSSetupError)?.setting ?? "certificate_file",
                                              site: site))
                }
            }
            let routes = site.routes.map { route in
                var staticRoot: StaticRoot?
                if let root = route.root {
                    var isDirectory: ObjCBool = false
                    if let real = realpath(root, nil) {
                        let path = String(cString: real)
                        free(real)
                        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                            staticRoot = StaticRoot(path: path, index: route.index, listDirectories: route.listDirectories,
                                                    precompressed: route.precompressed)
                        } else {
                            errors.append("site '\(site.name)', route \(route.path): root \(root) is not a folder")
                        }
                    } else {
                        errors.append("site '\(site.name)', route \(route.path): root \(root) does not exist")
                    }
                }
                var cache: RouteCache?
                if let settings = route.cache, let responseCache {
                    cache = RouteCache(store: responseCache, maxEntryBytes: settings.maxEntryBytes,
                                       defaultTTL: settings.defaultTTLSeconds, staleOnError: settings.staleOnErrorSeconds)
                }
                var access: AccessPolicy?
                if !route.access.isOpen {
                    do {
                        access = try AccessPolicy(route.access)
                    } catch {
                        errors.append("site '\(site.name)', route \(route.path): \(error)")
                    }
                }
                return Route(path: route.path, upstreams: route.upstreams.compactMap(HostAndPort.init),
                             maxBodyBytes: route.maxBodyBytes ?? edge.maxBodyBytes, preserveHost: route.preserveHost,
                             upstreamPath: route.upstreamPath, staticRoot: staticRoot, access: access,
                             isStatus: route.status, isMetrics: route.metrics, cache: cache)
            }
            var siteLog: AccessLog?
            if openLogs, let path = site.accessLog {
                do {
                    siteLog = try AccessLog(path: path, format: .init(edge.accessLogFormat), rotation: .init(edge))
                } catch {
                    errors.append("site '\(site.name)': \(error)")
                }
            }
            let primary = site.canonicalHost ?? site.hosts.first { !$0.contains("*") } ?? edge.serverName
            sites.append(Site(name: site.name, hosts: site.hosts, primaryHost: primary,
                              redirectToHTTPS: site.redirectToHTTPS && needsTLS, canonicalHost: site.canonicalHost,
                              allowEncodedSlashes: site.allowEncodedSlashes, routes: routes, tlsContext: context, accessLog: siteLog,
                              httpsHeaders: HeaderPolicy(edge: edge, site: site, tls: true),
                              httpHeaders: HeaderPolicy(edge: edge, site: site, tls: false)))
            sites.last?.certificateNotAfter = notAfter
        }
        let defaultSite = edge.defaultSite.flatMap { name in sites.first { $0.name == name } }
        let router = SiteRouter(sites: sites, defaultSite: defaultSite)
        let fallback = (defaultSite ?? sites.first(where: { $0.tlsContext != nil }))?.tlsContext

        var accessLog: AccessLog?
        if openLogs, edge.accessLog != "off" {
            let path = edge.accessLog ?? dataDirectory.accessLogFile
            do {
                accessLog = try AccessLog(path: path, format: .init(edge.accessLogFormat), rotation: .init(edge))
            } catch {
                errors.append("\(error)")
            }
        }
        guard errors.isEmpty else { throw EdgeConfigurationError(problems: errors) }
        return EdgeRuntime(configuration: configuration, listeners: listeners, sites: sites, router: router,
                           fallbackTLSContext: fallback, accessLog: accessLog, warnings: warnings,
                           responseCache: responseCache, ocspSubjects: ocspSubjects, ocspCache: ocspCache)
    }

    /// The one site of a configuration without `sites`: every host, the top-level certificate,
    /// `/` to the configured upstreams or the app.
    public static func implicitSiteSettings(_ configuration: PortalConfiguration) -> SiteSettings {
        implicitSite(configuration)
    }

    static func implicitSite(_ configuration: PortalConfiguration) -> SiteSettings {
        let edge = configuration.edge
        let upstreams = edge.upstreams.isEmpty
            ? [HostAndPort(host: loopbackAddress(for: configuration.app.host), port: configuration.app.port).description]
            : edge.upstreams
        var site = SiteSettings(name: "default", hosts: ["*"], routes: [RouteSettings(path: "/", upstreams: upstreams)])
        site.certificateFile = edge.certificateFile
        site.keyFile = edge.keyFile
        site.ocspResponseFile = edge.ocspResponseFile
        return site
    }

    /// A listener named twice in one list is served once; the operator likely meant another.
    static func listenerWarnings(_ edge: EdgeSettings) -> [String] {
        var warnings: [String] = []
        for (key, values) in [("http_listeners", edge.httpListeners), ("https_listeners", edge.httpsListeners)] {
            let addresses = (values ?? []).compactMap(HostAndPort.init).map(\.description)
            var seen: Set<String> = []
            var repeated: [String] = []
            for address in addresses where !seen.insert(address).inserted && !repeated.contains(address) {
                repeated.append(address)
            }
            warnings += repeated.map { "edge.\(key) names \($0) more than once; it is listened on once" }
        }
        return warnings
    }

    /// Where to reach a service bound to `host` (loopback for a wildcard address).
    static func loopbackAddress(for host: String) -> String {
        guard let address = IPAddress(host), address.isUnspecified else { return host }
        return address.bytes.count == 4 ? "127.0.0.1" : "::1"
    }

    struct CertificateFiles {
        var certificate: String
        var key: String
        var chain: String?
        var isDevelopment: Bool
    }

    static func certificateFiles(for site: SiteSettings, dataDirectory: DataDirectory,
                                 allowMissingDevelopment: Bool) throws -> CertificateFiles? {
        if let certificate = site.certificateFile, let key = site.keyFile {
            return CertificateFiles(certificate: certificate, key: key, chain: site.chainFile, isDevelopment: false)
        }
        let development = DevelopmentCertificate(directory: dataDirectory.tlsDirectory)
        guard FileManager.default.fileExists(atPath: development.certificateFile) else {
            if allowMissingDevelopment { return nil }
            throw TLSSetupError("""
                no certificate: \(development.certificateFile) does not exist. Run `portal up` once to \
                generate the development certificate, or set certificate_file and key_file
                """)
        }
        return CertificateFiles(certificate: development.certificateFile, key: development.keyFile, chain: nil,
                                isDevelopment: true)
    }

    /// A problem with a site's TLS files, named with the site and, when the file names came
    /// from the configuration file, the line of `setting` (`key_file`, `chain_file`, ...).
    static func placed(_ problem: String, setting: String, site: SiteSettings) -> String {
        let place = site.filePlaces[setting] ?? site.filePlaces["certificate_file"]
        return (place.map { "\($0): " } ?? "") + "site '\(site.name)': " + problem
    }

    static func loadContext(files: CertificateFiles, hosts: [String], errors: inout [String],
                            warnings: inout [String], http2: Bool, preferServerCiphers: Bool,
                            stapling: OCSPStaplingOptions) throws -> (NIOSSLContext?, Date?, OCSPSubject?) {
        let pem: String
        var chainPEM: String?
        pem = try ServerTLS.readText(files.certificate, what: "certificate file")
        if let chain = files.chain {
            chainPEM = try ServerTLS.readText(chain, what: "chain file", setting: "chain_file")
        }
        let findings = CertificateInspector.inspect(pem: pem, file: files.certificate, chainPEM: chainPEM,
                                                    chainFile: files.chain, hosts: files.isDevelopment ? [] : hosts)
        errors += findings.errors
        warnings += findings.warnings
        guard findings.errors.isEmpty else { return (nil, findings.notAfter, nil) }
        let servedPEM = try findings.chainPEM()
        let context = try ServerTLS.makeContext(certificatePEM: servedPEM, certificateFile: files.certificate,
                                                keyFile: files.key, http2: http2,
                                                preferServerCiphers: preferServerCiphers, warnings: &warnings)
        guard stapling.enabled, !files.isDevelopment else { return (context, findings.notAfter, nil) }
        let subject: OCSPSubject?
        do {
            subject = try OCSPSubject(chainPEM: servedPEM, certificateFile: files.certificate,
                                      evenWithoutResponder: stapling.responseFile != nil)
        } catch {
            warnings.append("\(error); OCSP stapling is off for it")
            return (context, findings.notAfter, nil)
        }
        guard let subject else { return (context, findings.notAfter, nil) }
        let answer: [UInt8]
        if let file = stapling.responseFile {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw TLSSetupError("cannot read OCSP response file \(file)")
            }
            answer = [UInt8](data)
            do {
                _ = try subject.check(responseDER: answer, now: Date())
            } catch {
                warnings.append("OCSP response file \(file) is not stapled: \(error)")
                return (context, findings.notAfter, subject)
            }
        } else if let cached = stapling.cache.load(subject, now: Date()) {
            answer = cached.der
        } else {
            // Nothing good kept yet: the edge fetches an answer and rebuilds the contexts.
            return (context, findings.notAfter, subject)
        }
        if !ServerTLS.staple(answer, on: context) {
            warnings.append("certificate \(files.certificate): the OCSP answer could not be stapled")
        }
        return (context, findings.notAfter, subject)
    }
}

/// Problems that keep a configuration from being served, every one of them.
public struct EdgeConfigurationError: Error, CustomStringConvertible {
    public let problems: [String]

    public var description: String {
        problems.joined(separator: "\n")
    }
}
