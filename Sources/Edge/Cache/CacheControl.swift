import NIOHTTP1

/// The `Cache-Control` directives a shared cache acts on (RFC 9111 §5.2), read from every
/// `Cache-Control` field of a request or response. Directive names are case-insensitive;
/// `private` and `no-cache` with a field list count as the plain directive (the stricter reading).
struct CacheControl: Equatable {
    var noStore = false
    var noCache = false
    var isPrivate = false
    var isPublic = false
    var mustRevalidate = false
    var maxAge: Int?
    var sharedMaxAge: Int?

    init(_ headers: HTTPHeaders) {
        for value in headers[canonicalForm: "cache-control"] {
            for directive in value.split(separator: ",") {
                apply(directive)
            }
        }
    }

    private mutating func apply(_ directive: Substring) {
        let parts = directive.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard let rawName = parts.first else { return }
        let name = rawName.trimmingASCIISpaces().lowercased()
        let argument = parts.count > 1 ? parts[1].trimmingASCIISpaces() : nil
        switch name {
        case "no-store": noStore = true
        case "no-cache": noCache = true
        case "private": isPrivate = true
        case "public": isPublic = true
        case "must-revalidate", "proxy-revalidate": mustRevalidate = true
        case "max-age": maxAge = Self.seconds(argument)
        case "s-maxage": sharedMaxAge = Self.seconds(argument)
        default: break
        }
    }

    /// A delta-seconds argument (quotes tolerated); an unreadable one counts as 0 (already stale).
    private static func seconds(_ argument: String?) -> Int {
        guard var text = argument else { return 0 }
        if text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 { text = String(text.dropFirst().dropLast()) }
        guard !text.isEmpty, text.allSatisfy(\.isASCIIDigitCharacter) else { return 0 }
        return Int(text).map(Self.clamped) ?? Self.maxDeltaSeconds
    }

    /// The largest delta-seconds a cache works with (RFC 9111 §1.2.2: 2^31); larger values,
    /// which an upstream may send, are taken as this so age and lifetime sums cannot overflow.
    static let maxDeltaSeconds = 2_147_483_648

    static func clamped(_ seconds: Int) -> Int {
        min(max(seconds, 0), maxDeltaSeconds)
    }
}

extension Character {
    fileprivate var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
