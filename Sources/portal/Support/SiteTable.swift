import Edge
import Foundation
import PortalCore

/// The site table `portal check --dump-sites` prints, like `httpd -t -D DUMP_VHOSTS`.
enum SiteTable {
    static func render(_ configuration: PortalConfiguration, runtime: EdgeRuntime) -> String {
        let edge = configuration.edge
        var lines = ["Listeners: " + runtime.listeners.map(\.description).joined(separator: ", ")]
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
            for route in site.routes.sorted(by: { $0.path.count > $1.path.count }) {
                if let root = route.root {
                    lines.append("    route \(route.path) -> files in \(root)\(route.listDirectories ? " (listing on)" : "")")
                    continue
                }
                let limit = route.maxBodyBytes ?? edge.maxBodyBytes
                let cache = route.cache.map { ", cached up to \($0.maxEntryBytes) bytes per response" } ?? ""
                lines.append("    route \(route.path) -> \(route.upstreams.joined(separator: ", ")) (max body \(limit) bytes\(route.preserveHost ? "" : ", Host rewritten")\(cache))")
            }
        }
        if edge.sites.isEmpty == false, edge.defaultSite == nil {
            lines.append("unknown hosts: \(edge.unknownHostStatus)")
        }
        return lines.joined(separator: "\n")
    }
}
