/// A `host:port` pair as written in configuration (`127.0.0.1:9000`, `[::1]:9000`, `app.internal:9000`).
public struct HostAndPort: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, also written as an Apache `ProxyPass` URL (`http://host:port/path`,
    /// whose path `urlPath(of:)` gives); nil when the port is missing or out of range.
    public init?(_ text: String) {
        var rest = Substring(text)
        if rest.hasPrefix("http://") {
            rest = rest.dropFirst("http://".count)
            if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        }
        let host: Substring
        let portText: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let afterClose = rest[rest.index(after: close)...]
            guard afterClose.hasPrefix(":") else { return nil }
            portText = afterClose.dropFirst()
        } else {
            guard let colon = rest.lastIndex(of: ":") else { return nil }
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
            if host.contains(":") { return nil }
        }
        guard !host.isEmpty, let port = Int(portText), (1...65_535).contains(port) else { return nil }
        // Digits and dots only is meant as an IPv4 address, and must be one (not `256.1.1.1`);
        // anything else must look like a host name.
        if host.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) {
            guard IPAddress(String(host)) != nil else { return nil }
        } else if !rest.hasPrefix("[") {
            guard host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_") })
            else { return nil }
        }
        self.host = String(host)
        self.port = port
    }

    /// The path of an upstream written as a URL (`http://127.0.0.1:3000/` gives `/`,
    /// `http://127.0.0.1:3000` gives an empty path); nil for the plain `host:port` form. As in
    /// Apache's `ProxyPass /api/ http://host:3000/`, the route's path is replaced by it.
    public static func urlPath(of text: String) -> String? {
        guard text.hasPrefix("http://") else { return nil }
        let rest = text.dropFirst("http://".count)
        guard let slash = rest.firstIndex(of: "/") else { return "" }
        return String(rest[slash...])
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
