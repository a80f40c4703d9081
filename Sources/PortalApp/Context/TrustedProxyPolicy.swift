public import HTTPTypes
public import PortalCore

/// Decides what the app believes about a request's origin, as Waitress's `trusted_proxy`,
/// `trusted_proxy_count` and `clear_untrusted_proxy_headers` do.
///
/// Only when the TCP peer is a trusted proxy are `X-Forwarded-*` headers believed, and then only
/// the last `trustedProxyCount` entries of `X-Forwarded-For` (those the trusted proxies added).
/// From any other peer the headers are removed, so no client can claim another address or scheme.
public struct TrustedProxyPolicy: Sendable {
    public let trustedRanges: [IPRange]
    public let trustedProxyCount: Int

    public init(trustedProxies: [String], trustedProxyCount: Int) {
        self.trustedRanges = trustedProxies.compactMap(IPRange.init)
        self.trustedProxyCount = trustedProxyCount
    }

    /// Names of the headers this policy reads or removes.
    public static let forwardedHeaderNames: [HTTPField.Name] = [
        forwardedFor, forwardedProto, forwardedHost, HTTPField.Name.constant("X-Forwarded-Port"),
        HTTPField.Name.constant("Forwarded"),
    ]

    /// Where a request came from, as far as the app can tell.
    public struct Origin: Sendable, Equatable {
        /// The client's IP address (the peer's when no trusted proxy vouches for another).
        public var clientAddress: String
        /// `https` or `http`.
        public var scheme: String
        /// The host the client asked for, when known.
        public var host: String?
        /// True when the request came through a trusted proxy.
        public var viaTrustedProxy: Bool
    }

    public func isTrusted(_ peer: String?) -> Bool {
        guard trustedProxyCount > 0, let peer, let address = IPAddress(peer) else { return false }
        return trustedRanges.contains { $0.contains(address) }
    }

    /// The origin of a request from `peer` with `headers`; `headers` loses every forwarding header
    /// that is not believed.
    public func resolve(peer: String?, headers: inout HTTPFields) -> Origin {
        let peerAddress = peer ?? "-"
        var origin = Origin(clientAddress: peerAddress, scheme: "http", host: headers[HTTPField.Name.constant("Host")], viaTrustedProxy: false)
        guard isTrusted(peer) else {
            for name in Self.forwardedHeaderNames { headers[fields: name] = [] }
            return origin
        }
        origin.viaTrustedProxy = true
        let forwardedFor = headers[values: Self.forwardedFor]
            .flatMap { $0.split(separator: ",") }
            .map { $0.trimmed(of: " \t") }
            .filter { !$0.isEmpty }
        // With N trusted proxies the client is the N-th address from the right; fewer entries
        // than proxies means the chain is shorter than configured, so the peer stays the client.
        if forwardedFor.count >= trustedProxyCount, trustedProxyCount > 0 {
            let candidate = forwardedFor[forwardedFor.count - trustedProxyCount]
            if let address = IPAddress(candidate) { origin.clientAddress = address.description }
        }
        if let proto = lastValue(headers[values: Self.forwardedProto])?.lowercased(), proto == "https" || proto == "http" {
            origin.scheme = proto
        }
        if let host = lastValue(headers[values: Self.forwardedHost]), !host.isEmpty {
            origin.host = host
        }
        return origin
    }

    private func lastValue(_ values: [String]) -> String? {
        values.flatMap { $0.split(separator: ",") }.last.map { $0.trimmed(of: " \t") }
    }

    static let forwardedFor = HTTPField.Name.constant("X-Forwarded-For")
    static let forwardedProto = HTTPField.Name.constant("X-Forwarded-Proto")
    static let forwardedHost = HTTPField.Name.constant("X-Forwarded-Host")
}

extension HTTPField.Name {
    /// A header name written in the source; only valid token characters are ever passed.
    static func constant(_ name: String) -> HTTPField.Name {
        guard let field = HTTPField.Name(name) else { preconditionFailure("invalid header name constant \(name)") }
        return field
    }
}

extension StringProtocol {
    func trimmed(of set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
