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

    /// Rules apply in layers, as Apache's server-wide `Header` directives and then a vhost's
    /// do: the defaults (with the edge's HSTS), then the edge-wide rules, then the site's (its
    /// `hsts` first). In each layer `unset` goes first, then `set` (which replaces whatever an
    /// earlier layer set or appended under that name), then `append`; so a site can give a
    /// header the edge unsets a value of its own, or remove one the edge adds.
    init(edge: EdgeSettings, site: SiteSettings?, tls: Bool) {
        var layers = Layers()
        layers.set("Server", Self.serverName)
        for field in HeaderRules.defaults { layers.set(field.name, field.value) }
        if tls, let hsts = edge.hsts { layers.set("Strict-Transport-Security", hsts) }
        layers.apply(edge.headers)
        if let site {
            if let hsts = site.hsts {
                layers.unset("Strict-Transport-Security")
                if tls, hsts != "off" { layers.set("Strict-Transport-Security", hsts) }
            }
            layers.apply(site.headers)
        }
        self.set = layers.set
        self.append = layers.append
        self.removed = Array(layers.unset.union(layers.set.map { $0.0.lowercased() })).sorted()
    }

    /// The fields as the layers leave them, and every name some layer unset (the upstream's
    /// fields of those names go too, even when a later layer sets or appends its own).
    private struct Layers {
        var set: [(String, String)] = []
        var append: [(String, String)] = []
        var unset: Set<String> = []

        mutating func unset(_ name: String) {
            let lowered = name.lowercased()
            set.removeAll { $0.0.lowercased() == lowered }
            append.removeAll { $0.0.lowercased() == lowered }
            unset.insert(lowered)
        }

        mutating func set(_ name: String, _ value: String) {
            let lowered = name.lowercased()
            set.removeAll { $0.0.lowercased() == lowered }
            append.removeAll { $0.0.lowercased() == lowered }
            set.append((name, value))
        }

        mutating func apply(_ rules: HeaderRules) {
            for name in rules.unset { unset(name) }
            for field in rules.set { set(field.name, field.value) }
            append += rules.append.map { ($0.name, $0.value) }
        }
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
