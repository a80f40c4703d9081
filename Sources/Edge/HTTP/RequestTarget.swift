import NIOHTTP1

/// The path of a request target in the one form routes, access rules, static files, the cache
/// and the upstream all see, so no spelling of a path can reach a route whose rules it dodged.
///
/// As Apache and nginx do before matching `<Location>` / `location`: percent-encoded unreserved
/// characters (RFC 3986 §2.3: letters, digits, `-._~`) are decoded, `.` and `..` segments are
/// resolved (§5.2.4) and runs of slashes merged. Other percent-encodings stay as they are, so a
/// reserved character keeps its meaning upstream. An encoded slash is refused with `404`
/// (Apache's `AllowEncodedSlashes Off`) unless the site allows it, in which case it stays
/// encoded and is no separator (`NoDecode`); a malformed escape, an encoded NUL, or a `..` that
/// climbs above the root is a `400`. The query string is passed on untouched.
enum RequestTarget {
    enum Normalized: Equatable {
        /// The target is already in normal form.
        case unchanged
        case normalized(String)
        case refused(HTTPResponseStatus, reason: String)
    }

    static func normalize(_ uri: String, allowEncodedSlashes: Bool = false) -> Normalized {
        let bytes = uri.utf8
        guard bytes.first == UInt8(ascii: "/") else { return .unchanged }
        // A fragment never belongs in a request (RFC 9112 §3.2), and upstreams that drop it
        // would serve a path the routes did not match.
        if bytes.contains(UInt8(ascii: "#")) { return .refused(.badRequest, reason: "fragment (#) in the request target") }
        let pathEnd = bytes.firstIndex(of: UInt8(ascii: "?")) ?? bytes.endIndex
        let path = bytes[..<pathEnd]
        // Some servers read a backslash as a separator, or `..;x` as `..` (path parameters).
        if path.contains(UInt8(ascii: "\\")) { return .refused(.badRequest, reason: "backslash in the path") }
        if hasDotSegmentWithParameters(path) {
            return .refused(.badRequest, reason: "a . or .. segment with ; parameters in the path")
        }
        guard needsWork(path) else { return .unchanged }

        var decoded: [UInt8] = []
        decoded.reserveCapacity(path.count)
        var index = path.startIndex
        while index < path.endIndex {
            let byte = path[index]
            guard byte == UInt8(ascii: "%") else {
                decoded.append(byte)
                index = path.index(after: index)
                continue
            }
            let high = path.index(after: index)
            guard high < path.endIndex, path.index(after: high) < path.endIndex,
                  let value = hexValue(path[high], path[path.index(after: high)])
            else { return .refused(.badRequest, reason: "malformed percent-encoding in the path") }
            let low = path.index(after: high)
            if value == UInt8(ascii: "/") && !allowEncodedSlashes {
                return .refused(.notFound, reason: "encoded slash in the path")
            }
            if value == 0 { return .refused(.badRequest, reason: "encoded NUL in the path") }
            if value == UInt8(ascii: "\\") { return .refused(.badRequest, reason: "encoded backslash in the path") }
            if isUnreserved(value) {
                decoded.append(value)
            } else {
                decoded.append(UInt8(ascii: "%"))
                decoded.append(path[high])
                decoded.append(path[low])
            }
            index = path.index(after: low)
        }

        var segments: [ArraySlice<UInt8>] = []
        var trailingSlash = false
        for segment in decoded.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst() {
            trailingSlash = false
            switch segment.count {
            case 0:
                trailingSlash = true
            case 1 where segment.first == UInt8(ascii: "."):
                trailingSlash = true
            case 2 where segment.first == UInt8(ascii: ".") && segment.last == UInt8(ascii: "."):
                guard !segments.isEmpty else { return .refused(.badRequest, reason: "the path climbs above the root") }
                segments.removeLast()
                trailingSlash = true
            default:
                segments.append(segment)
            }
        }
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        for segment in segments {
            result.append(UInt8(ascii: "/"))
            result.append(contentsOf: segment)
        }
        if trailingSlash || segments.isEmpty { result.append(UInt8(ascii: "/")) }
        result.append(contentsOf: bytes[pathEnd...])
        let normalized = String(decoding: result, as: UTF8.self)
        return normalized == uri ? .unchanged : .normalized(normalized)
    }

    /// True when a segment is `.;…` or `..;…` (also with `%2e` for the dots).
    private static func hasDotSegmentWithParameters(_ path: Substring.UTF8View) -> Bool {
        guard path.contains(UInt8(ascii: ";")) else { return false }
        for segment in path.split(separator: UInt8(ascii: "/")) {
            guard let semicolon = segment.firstIndex(of: UInt8(ascii: ";")) else { continue }
            let name = String(decoding: segment[..<semicolon], as: UTF8.self).lowercased()
            if [".", "..", "%2e", "%2e%2e", ".%2e", "%2e."].contains(name) { return true }
        }
        return false
    }

    /// True when the path holds a `%`, a `//`, or a `.` / `..` segment.
    private static func needsWork(_ path: Substring.UTF8View) -> Bool {
        var previous: UInt8 = 0
        var segmentDots = 0
        var segmentLength = 0
        for byte in path {
            switch byte {
            case UInt8(ascii: "%"):
                return true
            case UInt8(ascii: "/"):
                if previous == UInt8(ascii: "/") { return true }
                if segmentLength > 0 && segmentDots == segmentLength && segmentLength <= 2 { return true }
                segmentDots = 0
                segmentLength = 0
            case UInt8(ascii: "."):
                segmentDots += 1
                segmentLength += 1
            default:
                segmentLength += 1
            }
            previous = byte
        }
        return segmentLength > 0 && segmentDots == segmentLength && segmentLength <= 2
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    private static func hexValue(_ high: UInt8, _ low: UInt8) -> UInt8? {
        guard let high = hexDigit(high), let low = hexDigit(low) else { return nil }
        return high << 4 | low
    }

    private static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
