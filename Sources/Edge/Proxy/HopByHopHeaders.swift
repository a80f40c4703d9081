import NIOHTTP1

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1): a proxy removes
/// them, and every header named in `Connection`, before forwarding in either direction.
enum HopByHopHeaders {
    static let names: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
        "proxy-authenticate", "proxy-authorization",
    ]

    /// Removes hop-by-hop headers and those listed in `Connection`.
    static func strip(_ headers: inout HTTPHeaders) {
        var listed: [String] = []
        for value in headers[canonicalForm: "connection"] {
            listed.append(value.lowercased().trimmingASCIISpaces())
        }
        for name in names { headers.remove(name: name) }
        for name in listed where !name.isEmpty { headers.remove(name: name) }
    }
}

extension StringProtocol {
    func trimmingASCIISpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
