import NIOHTTP1

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1): a proxy removes
/// them, and every header named in `Connection`, before forwarding in either direction.
enum HopByHopHeaders {
    /// True for a hop-by-hop header name (any case).
    @inline(__always)
    static func isHopByHop(_ name: String) -> Bool {
        switch name.utf8.count {
        case 2: return ASCII.equalsIgnoringCase(name, "te")
        case 7: return ASCII.equalsIgnoringCase(name, "upgrade") || ASCII.equalsIgnoringCase(name, "trailer")
        case 10: return ASCII.equalsIgnoringCase(name, "connection") || ASCII.equalsIgnoringCase(name, "keep-alive")
        case 16: return ASCII.equalsIgnoringCase(name, "proxy-connection")
        case 17: return ASCII.equalsIgnoringCase(name, "transfer-encoding")
        case 18: return ASCII.equalsIgnoringCase(name, "proxy-authenticate")
        case 19: return ASCII.equalsIgnoringCase(name, "proxy-authorization")
        default: return false
        }
    }

    /// Lower-cased names listed in the `Connection` headers.
    static func connectionTokens(_ headers: HTTPHeaders) -> [String] {
        var tokens: [String] = []
        for header in headers where header.name.utf8.count == 10 && ASCII.equalsIgnoringCase(header.name, "connection") {
            for token in header.value.split(separator: ",") {
                let trimmed = token.trimmingASCIISpaces()
                if !trimmed.isEmpty { tokens.append(ASCII.lowercased(Substring(trimmed))) }
            }
        }
        return tokens
    }

    /// Removes hop-by-hop headers and those listed in `Connection`.
    static func strip(_ headers: inout HTTPHeaders) {
        let listed = connectionTokens(headers)
        var kept: [(String, String)] = []
        kept.reserveCapacity(headers.count)
        for header in headers where !isHopByHop(header.name)
            && (listed.isEmpty || !listed.contains(where: { ASCII.equalsIgnoringCase(header.name, $0) })) {
            kept.append((header.name, header.value))
        }
        headers = HTTPHeaders(kept)
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
