/// Turns a request target into path segments under a document root, refusing every way out of
/// it: `..`, encoded dots and slashes (`%2e%2e`, `%2f`, `%5c`), double encoding, NUL, backslashes.
enum StaticPath {
    enum Outcome: Equatable {
        case segments([String])
        /// The target is malformed (bad percent-encoding): 400.
        case malformed
        /// The target tries to leave the root or hide a separator: 404, as if it did not exist.
        case refused
    }

    /// `uri` is the request target; `prefix` the route's path, removed first.
    static func resolve(uri: String, prefix: String) -> Outcome {
        var path = Substring(uri)
        if let query = path.firstIndex(of: "?") { path = path[..<query] }
        if let fragment = path.firstIndex(of: "#") { path = path[..<fragment] }
        guard path.hasPrefix(prefix) || path + "/" == prefix else { return .refused }
        path = path.dropFirst(min(prefix.count, path.count))
        var segments: [String] = []
        for rawSegment in path.split(separator: "/", omittingEmptySubsequences: true) {
            guard let decoded = percentDecode(rawSegment) else { return .malformed }
            if decoded.contains(0) || decoded.contains(UInt8(ascii: "/")) || decoded.contains(UInt8(ascii: "\\")) {
                return .refused
            }
            guard let text = String(validating: decoded, as: UTF8.self) else { return .malformed }
            // A second layer of encoding (`%252e`) is never legitimate in a file name here.
            let lowered = text.lowercased()
            if lowered.contains("%2e") || lowered.contains("%2f") || lowered.contains("%5c") || lowered.contains("%00") {
                return .refused
            }
            if text == "." || text == ".." { return .refused }
            segments.append(text)
        }
        return .segments(segments)
    }

    static func percentDecode(_ text: Substring) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        return bytes
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}
