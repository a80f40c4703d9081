/// Byte-level helpers for header names and hosts: no Unicode tables on the hot path.
enum ASCII {
    @inline(__always)
    static func lower(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
    }

    /// True when `text` equals `lowercase` ignoring ASCII case (`lowercase` must be lower-case).
    @inline(__always)
    static func equalsIgnoringCase(_ text: String, _ lowercase: String) -> Bool {
        let a = text.utf8
        let b = lowercase.utf8
        guard a.count == b.count else { return false }
        return a.elementsEqual(b) { lower($0) == $1 }
    }

    /// The same comparison over bytes, for text read in place (`lowercase` must be lower-case).
    @inline(__always)
    static func equalsIgnoringCase<Text: Collection<UInt8>, Lowercase: Collection<UInt8>>(_ text: Text, _ lowercase: Lowercase) -> Bool {
        text.count == lowercase.count && text.elementsEqual(lowercase) { lower($0) == $1 }
    }

    /// Lower-cases ASCII letters; other bytes are kept.
    static func lowercased(_ text: Substring) -> String {
        String(decoding: text.utf8.map(lower), as: UTF8.self)
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    @inline(__always)
    static func isHostByte(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || isDigit(byte) || byte == 0x2E || byte == 0x2D
    }

    /// A `tchar` of RFC 9110 §5.6.2: letters, digits and ``!#$%&'*+-.^_`|~``.
    @inline(__always)
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// True when `text` starts or ends with a space or a tab.
    @inline(__always)
    static func hasOuterWhitespace(_ text: String) -> Bool {
        let bytes = text.utf8
        guard let first = bytes.first, let last = bytes.last else { return false }
        return first == 0x20 || first == 0x09 || last == 0x20 || last == 0x09
    }
}

extension Substring.UTF8View {
    /// The bytes without leading and trailing spaces and tabs.
    func trimmingASCIIWhitespace() -> Substring.UTF8View {
        var slice = self
        while let first = slice.first, first == 0x20 || first == 0x09 { slice = slice.dropFirst() }
        while let last = slice.last, last == 0x20 || last == 0x09 { slice = slice.dropLast() }
        return slice
    }
}
