import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import PortalCore

/// Who may use a route: loopback only (Apache's `Require local`), allow and deny lists, and
/// HTTP basic auth against an htpasswd file of bcrypt hashes.
final class AccessPolicy: Sendable {
    enum Decision {
        case allow
        case forbidden
        case unauthorized
        /// The password must be checked with bcrypt (off the event loop); `cacheKey` remembers a success.
        case verify(password: String, hash: String, cacheKey: String)
    }

    let localOnly: Bool
    let allow: [IPRange]
    let deny: [IPRange]
    let users: [String: String]?
    let realm: String
    /// Credentials checked recently, so bcrypt does not run on every request (Apache's authn_socache).
    private let verified = NIOLockedValueBox<[String: NIODeadline]>([:])
    private static let verifiedLifetime = TimeAmount.minutes(5)

    init(_ rules: AccessRules) throws {
        localOnly = rules.localOnly
        allow = rules.allow.compactMap(IPRange.init)
        deny = rules.deny.compactMap(IPRange.init)
        realm = rules.basicAuthRealm
        if let file = rules.basicAuthFile {
            users = try Self.loadPasswords(file)
        } else {
            users = nil
        }
    }

    /// Reads `user:hash` lines; only bcrypt hashes (`$2a$`, `$2b$`, `$2y$`) are accepted.
    static func loadPasswords(_ file: String) throws -> [String: String] {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw TLSSetupError("cannot read htpasswd file \(file): \(ServerTLS.describe(error))")
        }
        var users: [String: String] = [:]
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingASCIISpaces()
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let colon = trimmed.firstIndex(of: ":") else {
                throw TLSSetupError("\(file):\(index + 1): expected user:hash")
            }
            let hash = String(trimmed[trimmed.index(after: colon)...])
            guard hash.hasPrefix("$2a$") || hash.hasPrefix("$2b$") || hash.hasPrefix("$2y$") else {
                throw TLSSetupError("\(file):\(index + 1): only bcrypt hashes are accepted (htpasswd -B)")
            }
            users[String(trimmed[..<colon])] = hash.hasPrefix("$2y$") ? "$2b$" + hash.dropFirst(4) : hash
        }
        return users
    }

    func check(client: String, authorization: String?) -> Decision {
        let address = IPAddress(client)
        if let address, deny.contains(where: { $0.contains(address) }) { return .forbidden }
        if localOnly && !(address?.isLoopback ?? false) { return .forbidden }
        if !allow.isEmpty && !(address.map { address in allow.contains { $0.contains(address) } } ?? false) {
            return .forbidden
        }
        guard let users else { return .allow }
        guard let authorization, authorization.lowercased().hasPrefix("basic "),
              let decoded = Data(base64Encoded: String(authorization.dropFirst(6)).trimmingASCIISpaces()),
              let credentials = String(data: decoded, encoding: .utf8),
              let colon = credentials.firstIndex(of: ":")
        else { return .unauthorized }
        let user = String(credentials[..<colon])
        let password = String(credentials[credentials.index(after: colon)...])
        guard let hash = users[user] else { return .unauthorized }
        let cacheKey = HexDigest.string(SHA256.hash(data: Data("\(user):\(password):\(hash)".utf8)))
        let now = NIODeadline.now()
        if verified.withLockedValue({ ($0[cacheKey] ?? .uptimeNanoseconds(0)) > now }) { return .allow }
        return .verify(password: password, hash: hash, cacheKey: cacheKey)
    }

    func remember(_ cacheKey: String) {
        let expiry = NIODeadline.now() + Self.verifiedLifetime
        verified.withLockedValue { cache in
            if cache.count > 1_000 { cache.removeAll() }
            cache[cacheKey] = expiry
        }
    }

    var challenge: String { "Basic realm=\"\(realm)\", charset=\"UTF-8\"" }
}
