/// Parsing of the `Host` request header.
enum HostHeader {
    /// The host part of a `Host` value (`example.com:8080` → `example.com`, `[::1]:80` → `[::1]`),
    /// lower-cased; nil when it holds anything but letters, digits, dots, hyphens or a bracketed
    /// IPv6 literal, an empty label (`a..b`, as nginx refuses), or a port that is not a number
    /// up to 65535 (an empty port is allowed, as RFC 3986 allows it).
    static func hostPart(_ value: String) -> String? {
        let bytes = value.utf8
        guard let first = bytes.first else { return nil }
        if first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            let literal = bytes[bytes.index(after: bytes.startIndex)..<close]
            guard !literal.isEmpty, literal.allSatisfy({ ASCII.isDigit($0) || ($0 >= 0x61 && $0 <= 0x66)
                || ($0 >= 0x41 && $0 <= 0x46) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") })
            else { return nil }
            let rest = bytes[bytes.index(after: close)...]
            if !rest.isEmpty {
                guard rest.first == UInt8(ascii: ":"), isPort(rest.dropFirst()) else { return nil }
            }
            return ASCII.lowercased(Substring(value)[..<value.index(after: close)])
        }
        if let name = bytes.withContiguousStorageIfAvailable(hostName) { return name }
        return Array(bytes).withUnsafeBufferPointer(hostName)
    }

    /// The lower-cased host name of a `Host` value without brackets, checked in one pass.
    private static func hostName(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var end = bytes.count
        var hasUpper = false
        for index in 0..<bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: ":") {
                guard isPort(UnsafeBufferPointer(rebasing: bytes[(index + 1)...])) else { return nil }
                end = index
                break
            }
            guard ASCII.isHostByte(byte) else { return nil }
            if byte >= 0x41 && byte <= 0x5A { hasUpper = true }
        }
        // A fully qualified name's final dot (`example.com.`) names the same host.
        if end > 1, bytes[end - 1] == UInt8(ascii: ".") { end -= 1 }
        guard end > 0, end <= 253, bytes[0] != UInt8(ascii: ".") else { return nil }
        for index in 1..<end where bytes[index] == UInt8(ascii: ".") && bytes[index - 1] == UInt8(ascii: ".") {
            return nil
        }
        let host = UnsafeBufferPointer(rebasing: bytes[..<end])
        return hasUpper ? String(decoding: host.lazy.map(ASCII.lower), as: UTF8.self) : String(decoding: host, as: UTF8.self)
    }

    /// The port a `Host` value names (`example.com:8080` → 8080, `[::1]:80` → 80); nil without one.
    static func port(_ value: String) -> Int? {
        let afterBracket = value.lastIndex(of: "]").map { value[value.index(after: $0)...] } ?? Substring(value)
        guard let colon = afterBracket.lastIndex(of: ":") else { return nil }
        return Int(afterBracket[afterBracket.index(after: colon)...])
    }

    /// Digits of a port number (0 to 65535), or nothing.
    private static func isPort<Digits: Collection<UInt8>>(_ digits: Digits) -> Bool {
        guard digits.count <= 5, digits.allSatisfy(ASCII.isDigit) else { return false }
        return digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) } <= 65535
    }
}
