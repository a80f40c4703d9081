/// Turns a request target into path segments under a document root, refusing every way out of
/// it: `..`, encoded dots and slashes (`%2e%2e`, `%2f`, `%5c`), double encoding, NUL, backslashes,
/// and hidden names (a segment starting with a dot, except `.well-known`).
enum StaticPath {
    enum Outcome: Equatable {
        case segments([String])
        /// The target is malformed (bad percent-encoding): 400.
        case malformed
        /// The target tries to leave the root or hide a separator: 404, as if it did not exist.
        case refused
    }

    /// `uri` is the request target; `prefix` the route's path, removed first. Works on UTF-8
    /// bytes: this runs for every file request.
    static func resolve(uri: String, prefix: String) -> Outcome {
        let target = uri.utf8
        let pathEnd = target.firstIndex { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? target.endIndex
        let path = target[target.startIndex..<pathEnd]
        let prefixBytes = prefix.utf8
        let rest: Substring.UTF8View
        if path.starts(with: prefixBytes) {
            rest = target[path.index(path.startIndex, offsetBy: prefixBytes.count)..<pathEnd]
        } else if path.count + 1 == prefixBytes.count, prefixBytes.last == UInt8(ascii: "/"), prefixBytes.starts(with: path) {
            rest = target[pathEnd..<pathEnd]
        } else {
            return .refused
        }
        var segments: [String] = []
        for rawSegment in rest.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            guard let decoded = percentDecode(rawSegment) else { return .malformed }
            if decoded.contains(where: { $0 == 0 || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "\\") }) {
                return .refused
            }
            // A second layer of encoding (`%252e`) is never legitimate in a file name here.
            if hasEncodedSeparator(decoded) { return .refused }
            guard let text = String(validating: decoded, as: UTF8.self) else { return .malformed }
            if text == "." || text == ".." { return .refused }
            // Hidden files (`.htpasswd`, `.git`, `.env`) are never served; `.well-known` is public.
            if text.utf8.first == UInt8(ascii: "."), text != ".well-known" { return .refused }
            segments.append(text)
        }
        return .segments(segments)
    }

    /// True when `bytes` still hold `%2e`, `%2f`, `%5c` or `%00` (any case) after one decoding.
    static func hasEncodedSeparator(_ bytes: [UInt8]) -> Bool {
        var index = 0
        while index + 2 < bytes.count {
            if bytes[index] == UInt8(ascii: "%") {
                let high = bytes[index + 1]
                let low = bytes[index + 2] | 0x20
                if (high == UInt8(ascii: "2") && (low == UInt8(ascii: "e") || low == UInt8(ascii: "f")))
                    || (high == UInt8(ascii: "5") && low == UInt8(ascii: "c"))
                    || (high == UInt8(ascii: "0") && bytes[index + 2] == UInt8(ascii: "0")) {
                    return true
                }
            }
            index += 1
        }
        return false
    }

    static func percentDecode(_ text: Substring) -> [UInt8]? {
        percentDecode(text.utf8[...])
    }

    static func percentDecode(_ text: Substring.UTF8View.SubSequence) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count)
        var iterator = text.makeIterator()
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
