/// The syntax of an RFC 7239 `Forwarded` field value: a comma-separated list of elements, each
/// `name=value` pairs joined by `;`, a value being a token or a quoted string.
enum ForwardedSyntax {
    /// True when `value` follows the grammar; an element the edge appends after a broken one
    /// (an unclosed quote) would otherwise be read as part of the client's text.
    static func isValid(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        var index = 0
        func skipSpaces() {
            while index < bytes.count, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") { index += 1 }
        }
        func token() -> Bool {
            let start = index
            while index < bytes.count, ASCII.isTokenByte(bytes[index]) { index += 1 }
            return index > start
        }
        func quoted() -> Bool {
            index += 1
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    index += 1
                    return true
                case UInt8(ascii: "\\"):
                    index += 2
                default:
                    let byte = bytes[index]
                    if (byte < 0x20 && byte != UInt8(ascii: "\t")) || byte == 0x7F { return false }
                    index += 1
                }
            }
            return false
        }
        var pairs = 0
        while true {
            skipSpaces()
            // Empty elements and pairs are allowed by the list rule; pairs are not.
            if index < bytes.count, bytes[index] != UInt8(ascii: ","), bytes[index] != UInt8(ascii: ";") {
                guard token(), index < bytes.count, bytes[index] == UInt8(ascii: "=") else { return false }
                index += 1
                guard index < bytes.count else { return false }
                if bytes[index] == UInt8(ascii: "\"") {
                    guard quoted() else { return false }
                } else {
                    guard token() else { return false }
                }
                pairs += 1
                skipSpaces()
            }
            guard index < bytes.count else { return pairs > 0 }
            guard bytes[index] == UInt8(ascii: ",") || bytes[index] == UInt8(ascii: ";") else { return false }
            index += 1
        }
    }
}
