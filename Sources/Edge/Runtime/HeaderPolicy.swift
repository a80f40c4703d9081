import NIOHTTP1
public import PortalCore

/// The response headers of one site on one kind of listener, compiled from the defaults, the
/// edge-wide rules and the site's rules: what to remove, what to set and what to add.
struct HeaderPolicy: Sendable {
    /// Lower-cased names removed from upstream responses (everything set is removed first too).
    let removed: [String]
    let set: [(String, String)]
    let append: [(String, String)]

    /// The product name every response carries, without a version.
    static let serverName = "Portal"

    init(edge: EdgeSettings, site: SiteSettings?, tls: Bool) {
        var set: [(String, String)] = [("Server", Self.serverName)]
        let unset = Set((edge.headers.unset + (site?.headers.unset ?? [])).map { $0.lowercased() })
        for field in HeaderRules.defaults where !unset.contains(field.name.lowercased()) {
            set.append((field.name, field.value))
        }
        let hsts = site?.hsts.map { $0 == "off" ? nil : $0 } ?? edge.hsts
        if tls, let hsts, !unset.contains("strict-transport-security") {
            set.append(("Strict-Transport-Security", hsts))
        }
        for field in edge.headers.set + (site?.headers.set ?? []) {
            set.removeAll { ASCII.equalsIgnoringCase($0.0, field.name.lowercased()) }
            set.append((field.name, field.value))
        }
        set.removeAll { unset.contains($0.0.lowercased()) }
        self.set = set
        self.append = (edge.headers.append + (site?.headers.append ?? [])).map { ($0.name, $0.value) }
        self.removed = Array(unset.union(set.map { $0.0.lowercased() }))
    }

    /// True when an upstream header is replaced or removed by this policy.
    @inline(__always)
    func removes(_ name: String) -> Bool {
        removed.contains { ASCII.equalsIgnoringCase(name, $0) }
    }

    /// Adds the policy's own headers after the kept ones.
    func finish(_ headers: inout [(String, String)]) {
        headers.append(contentsOf: set)
        headers.append(contentsOf: append)
    }

    /// Applies the policy to headers the edge built itself.
    func apply(to headers: inout HTTPHeaders) {
        var fields: [(String, String)] = []
        fields.reserveCapacity(headers.count + set.count + append.count)
        for header in headers where !removes(header.name) { fields.append((header.name, header.value)) }
        finish(&fields)
        headers = HTTPHeaders(fields)
    }
}

extension EdgeRuntime {
    /// The headers a site's responses get on one kind of listener, by name, in the order they
    /// are added (`portal check --dump-sites`): what is set, what is appended, what is removed.
    public static func responseHeaderNames(edge: EdgeSettings, site: SiteSettings,
                                           tls: Bool) -> (set: [String], append: [String], removed: [String]) {
        let policy = HeaderPolicy(edge: edge, site: site, tls: tls)
        let setNames = Set(policy.set.map { $0.0.lowercased() })
        return (policy.set.map(\.0), policy.append.map(\.0), policy.removed.filter { !setNames.contains($0) }.sorted())
    }
}
