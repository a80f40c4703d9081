import NIOCore

/// Follows the first line of a request as its bytes arrive, before the parser has a head: how
/// long it is so far, and whether its method is a well-formed token.
struct RequestLineProgress {
    /// Bytes of the request line seen so far (up to its line feed).
    private(set) var length = 0
    private(set) var ended = false
    /// The first word is a non-empty token (RFC 9110 §5.6.2) of at most 32 characters, ended by a space.
    private(set) var methodIsToken = false
    private var methodLength = 0
    private var methodEnded = false
    private var methodBroken = false
    /// The line's first bytes (without its CR), for logging a request the parser refused.
    private var captured: [UInt8] = []
    /// Most bytes of the line kept for the log.
    static let capturedLimit = 1024

    /// The line as received so far (bytes that are not UTF-8 logged escaped), for the log.
    var text: String {
        String(decoding: captured.last == UInt8(ascii: "\r") ? captured.dropLast() : captured[...], as: UTF8.self)
    }

    /// Starts over for the next request, keeping the capture's storage (one per connection).
    mutating func reset() {
        length = 0
        ended = false
        methodIsToken = false
        methodLength = 0
        methodEnded = false
        methodBroken = false
        captured.removeAll(keepingCapacity: true)
    }

    /// The line has ended without `HTTP/x.y` at its end (an HTTP/0.9 request). Empty lines
    /// before a request (RFC 9112 §2.2) and lines too long to have been kept do not count.
    var lacksVersion: Bool {
        guard ended, length <= Self.capturedLimit else { return false }
        let line = captured.last == UInt8(ascii: "\r") ? captured.dropLast() : captured[...]
        guard !line.isEmpty else { return false }
        let version = Array(line.suffix(9))
        guard version.count == 9 else { return true }
        return !(version[0] == UInt8(ascii: " ") && version[1...5].elementsEqual("HTTP/".utf8)
            && ASCII.isDigit(version[6]) && version[7] == UInt8(ascii: ".") && ASCII.isDigit(version[8]))
    }

    /// The line ends in a well-formed `HTTP/x.y` whose major version is above 1 (`HTTP/2.0`
    /// sent as text): a version this parser does not speak, rather than a malformed line.
    var asksForNewerMajorVersion: Bool {
        guard ended, !lacksVersion, length <= Self.capturedLimit else { return false }
        let line = captured.last == UInt8(ascii: "\r") ? captured.dropLast() : captured[...]
        guard let major = line.suffix(3).first else { return false }
        return major > UInt8(ascii: "1")
    }

    mutating func add(_ bytes: ByteBufferView) {
        guard !ended else { return }
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                ended = true
                return
            }
            if captured.count < Self.capturedLimit { captured.append(byte) }
            length += 1
            guard !methodEnded, !methodBroken else { continue }
            if byte == UInt8(ascii: " ") {
                methodEnded = true
                methodIsToken = methodLength > 0 && methodLength <= 32
            } else if ASCII.isTokenByte(byte) {
                methodLength += 1
            } else {
                methodBroken = true
            }
        }
    }
}
