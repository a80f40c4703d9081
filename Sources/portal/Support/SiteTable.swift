import Edge
import Foundation
import PortalCore

/// The site table `portal check --dump-sites` prints, like `httpd -t -D DUMP_VHOSTS`.
enum SiteTable {
    static func render(_ configuration: PortalConfiguration, runtime: EdgeRuntime) -> String {
        let edge = configuration.edge
        var lines = ["Listeners: " + runtime.listeners.map(\.description).joined(separator: ", ")]
        let accessLog = edge.accessLog ?? DataDirectory(configuration.dataDirectory).accessLogFile
        lines.append("Access log: " + (accessLog == "off" ? "off" : "\(accessLog) (\(edge.accessLogFormat))"))
        let errorLog = edge.errorLog ?? ErrorLogFile.defaultPath(dataDirectory: DataDirectory(configuration.dataDirectory))
        lines.append("Error log: \(errorLog) (warnings and errors; also standard error)")
        let sites = edge.sites.isEmpty ? [EdgeRuntime.implicitSiteSettings(configuration)] : edge.sites
        for site in sites {
            let isDefault = site.name == edge.defaultSite || (edge.sites.isEmpty)
            lines.append("site \(site.name)\(isDefault ? " (default for unknown hosts)" : "")")
            lines.append("    hosts: \(site.hosts.joined(separator: ", "))")
            let certificate = site.certificateFile
                ?? DevelopmentCertificate(directory: DataDirectory(configuration.dataDirectory).tlsDirectory).certificateFile
            lines.append("    certificate: \(certificate)\(site.certificateFile == nil ? " (development)" : "")")
            lines.append("    plain HTTP: \(site.redirectToHTTPS ? "301 to HTTPS" : "served")")
            if let canonical = site.canonicalHost { lines.append("    canonical host: \(canonical)") }
            if site.allowEncodedSlashes { lines.append("    encoded slashes (%2F): kept and passed on") }
            if let siteLog = site.accessLog { lines.append("    access log: \(siteLog) (besides the global one)") }
            lines.append(contentsOf: headerLines(edge: edge, site: site))
            for route in site.routes.sorted(by: { $0.path.count > $1.path.count }) {
                let access = accessSummary(route.access).map { " [\($0)]" } ?? ""
                if let root = route.root {
                    lines.append("    route \(route.path) -> files in \(root)\(route.listDirectories ? " (listing on)" : "")\(access)")
                    continue
                }
                if route.status || route.metrics {
                    lines.append("    route \(route.path) -> \(route.status ? "status page" : "Prometheus metrics")\(access)")
                    continue
                }
                let limit = route.maxBodyBytes ?? edge.maxBodyBytes
                let cache = route.cache.map { ", cached up to \($0.maxEntryBytes) bytes per response" } ?? ""
                let mapping = route.upstreamPath.map { ", \(route.path) sent as \($0.isEmpty ? "/" : $0)" } ?? ""
                lines.append("    route \(route.path) -> \(route.upstreams.joined(separator: ", ")) (max body \(limit) bytes\(route.preserveHost ? "" : ", Host rewritten")\(mapping)\(cache))\(access)")
            }
        }
        if edge.sites.isEmpty == false, edge.defaultSite == nil {
            lines.append("unknown hosts: \(edge.unknownHostStatus)")
        }
        return lines.joined(separator: "\n")
    }

    /// The response headers the site adds and removes, with the HSTS value, on HTTPS listeners.
    static func headerLines(edge: EdgeSettings, site: SiteSettings) -> [String] {
        let headers = EdgeRuntime.responseHeaderNames(edge: edge, site: site, tls: true)
        var lines = ["    response headers set: " + headers.set.joined(separator: ", ")]
        if !headers.append.isEmpty { lines.append("    response headers appended: " + headers.append.joined(separator: ", ")) }
        if !headers.removed.isEmpty { lines.append("    response headers removed: " + headers.removed.joined(separator: ", ")) }
        let hsts = site.hsts.map { $0 == "off" ? nil : $0 } ?? edge.hsts
        let hstsRemoved = headers.removed.contains("strict-transport-security")
        lines.append("    HSTS (HTTPS only): " + (hstsRemoved ? "off (unset)" : hsts ?? "off"))
        return lines
    }

    /// Who may use a route, in a few words (`local only`, `allow 10.0.0.0/8`, `basic auth`); nil when anyone may.
    static func accessSummary(_ access: AccessRules) -> String? {
        var parts: [String] = []
        if access.localOnly { parts.append("local only") }
        if !access.allow.isEmpty { parts.append("allow " + access.allow.joined(separator: ", ")) }
        if !access.deny.isEmpty { parts.append("deny " + access.deny.joined(separator: ", ")) }
        if let file = access.basicAuthFile { parts.append("basic auth from \(file)") }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }
}
