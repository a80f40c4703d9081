import Crypto
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
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
        /// The htpasswd file is due a look (see `refresh`): call it off the event loop, then check again.
        case refreshFirst
    }

    let localOnly: Bool
    let allow: [IPRange]
    let deny: [IPRange]
    let realm: String
    /// Address rules or the password suffice on their own (see `AccessRules.satisfyAny`).
    let satisfyAny: Bool
    /// The htpasswd file, re-read when it changes (see `refreshIfDue`).
    private let passwordFile: String?
    private let passwords: NIOLockedValueBox<PasswordTable>
    /// Credentials checked recently, so bcrypt does not run on every request (Apache's authn_socache).
    private let verified = NIOLockedValueBox<[String: NIODeadline]>([:])
    private static let verifiedLifetime = TimeAmount.minutes(5)
    /// How often the htpasswd file is looked at for changes.
    private static let refreshInterval = TimeAmount.seconds(1)

    /// The users of the htpasswd file, and what the file looked like when they were read.
    private struct PasswordTable {
        var users: [String: String]
        var fingerprint: FileFingerprint?
        var checkedAt = NIODeadline.now()
    }

    init(_ rules: AccessRules) throws {
        localOnly = rules.localOnly
        allow = rules.allow.compactMap(IPRange.init)
        deny = rules.deny.compactMap(IPRange.init)
        realm = rules.basicAuthRealm
        satisfyAny = rules.satisfyAny
        passwordFile = rules.basicAuthFile
        if let file = rules.basicAuthFile {
            let fingerprint = FileFingerprint(file)
            passwords = NIOLockedValueBox(PasswordTable(users: try Self.loadPasswords(file), fingerprint: fingerprint))
        } else {
            passwords = NIOLockedValueBox(PasswordTable(users: [:], fingerprint: nil))
        }
    }

    /// The users as last read; nil when the route has no password file.
    var users: [String: String]? {
        passwordFile == nil ? nil : passwords.withLockedValue { $0.users }
    }

    /// Whether the htpasswd file was last looked at more than a second ago.
    private var refreshDue: Bool {
        passwordFile != nil && NIODeadline.now() - passwords.withLockedValue { $0.checkedAt } >= Self.refreshInterval
    }

    /// Looks at the htpasswd file and reads it again when it changed, so a removed user or a new
    /// password counts from the next request on, as with Apache and nginx (which read the file
    /// on every request); successes remembered for the old file are forgotten. Blocking file
    /// I/O: called on the thread pool, at most about once a second per route (`refreshFirst`).
    /// A file that became unreadable or invalid keeps the users read before, and the problem is
    /// logged.
    func refresh() {
        guard let file = passwordFile else { return }
        let fingerprint = FileFingerprint(file)
        let unchanged = passwords.withLockedValue { $0.fingerprint == fingerprint }
        var reloaded: [String: String]?
        if !unchanged {
            do {
                reloaded = try Self.loadPasswords(file)
            } catch {
                Logger(label: "portal.edge").error("htpasswd file not reloaded; the users read before still apply",
                                                   metadata: ["file": "\(file)", "error": "\(error)"])
            }
        }
        passwords.withLockedValue { table in
            table.checkedAt = NIODeadline.now()
            table.fingerprint = fingerprint
            if let reloaded { table.users = reloaded }
        }
        if reloaded != nil { verified.withLockedValue { $0.removeAll() } }
    }

    /// Reads `user:hash` lines; only complete bcrypt hashes (`$2a$`, `$2b$`, `$2y$`, 60
    /// characters) are accepted. Windows line ends are fine (a file edited there has them).
    /// Every bad line is reported at once.
    static func loadPasswords(_ file: String) throws -> [String: String] {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw TLSSetupError("cannot read htpasswd file \(file): \(ServerTLS.describe(error))")
        }
        var users: [String: String] = [:]
        var problems: [String] = []
        // `\r\n` is one Character in Swift: splitting at "\n" alone would see no line end in it.
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let colon = trimmed.firstIndex(of: ":"), colon > trimmed.startIndex else {
                problems.append("\(file):\(index + 1): expected user:hash")
                continue
            }
            let hash = String(trimmed[trimmed.index(after: colon)...])
            guard hash.hasPrefix("$2a$") || hash.hasPrefix("$2b$") || hash.hasPrefix("$2y$") else {
                problems.append("\(file):\(index + 1): only bcrypt hashes are accepted (htpasswd -B)")
                continue
            }
            guard isCompleteBcrypt(hash) else {
                problems.append("\(file):\(index + 1): the bcrypt hash is incomplete (60 characters: $2y$, "
                    + "the cost, $, then 53 characters); make it again with htpasswd -B")
                continue
            }
            users[String(trimmed[..<colon])] = hash.hasPrefix("$2y$") ? "$2b$" + hash.dropFirst(4) : hash
        }
        if !problems.isEmpty { throw TLSSetupError(problems.joined(separator: "\n")) }
        return users
    }

    /// `$2b$NN$` and 53 characters of bcrypt's base-64 alphabet.
    private static func isCompleteBcrypt(_ hash: String) -> Bool {
        let bytes = Array(hash.utf8)
        guard bytes.count == 60, bytes[6] == UInt8(ascii: "$"), ASCII.isDigit(bytes[4]), ASCII.isDigit(bytes[5]) else {
            return false
        }
        return bytes[7...].allSatisfy { ASCII.isDigit($0) || ($0 | 0x20 >= UInt8(ascii: "a") && $0 | 0x20 <= UInt8(ascii: "z"))
            || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "/") }
    }

    /// The route asks for a password (an htpasswd file is configured).
    var requiresPassword: Bool { passwordFile != nil }

    /// The user name of a `Basic` `Authorization` value, for the access log's `%u`.
    static func basicUser(_ authorization: String?) -> String? {
        guard let authorization, authorization.lowercased().hasPrefix("basic "),
              let decoded = Data(base64Encoded: String(authorization.dropFirst(6)).trimmingASCIISpaces()),
              let credentials = String(data: decoded, encoding: .utf8),
              let colon = credentials.firstIndex(of: ":"), colon > credentials.startIndex
        else { return nil }
        return String(credentials[..<colon])
    }

    /// `client` and `server` are the two ends of the connection; a client at the server's own
    /// address is local too (Apache's `Require local`). The deny list always wins; `local_only`
    /// and `allow` let a client in when either does; with a password file, `satisfy` says
    /// whether the address rules and the password are both needed or either is enough.
    /// `mayRefresh: false` after a `refreshFirst` was just carried out, so a slow thread pool
    /// cannot send a request round again.
    func check(client: String, server: String? = nil, authorization: String?, mayRefresh: Bool = true) -> Decision {
        let address = IPAddress(client)
        if let address, deny.contains(where: { $0.contains(address) }) { return .forbidden }
        let placed = localOnly || !allow.isEmpty
        var placeAllowed = false
        if placed, let address {
            let local = address.isLoopback || server.flatMap(IPAddress.init) == address
            placeAllowed = (localOnly && local) || allow.contains { $0.contains(address) }
        }
        guard let users else { return placed && !placeAllowed ? .forbidden : .allow }
        if placed {
            if satisfyAny && placeAllowed { return .allow }
            if !satisfyAny && !placeAllowed { return .forbidden }
        }
        if mayRefresh && refreshDue { return .refreshFirst }
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

/// What identifies a version of a file without reading it: inode, size and modification time.
struct FileFingerprint: Equatable, Sendable {
    let inode: UInt64
    let size: Int
    let modified: Double

    /// nil when the file cannot be examined. Symbolic links are followed (a mounted secret is
    /// usually a link that is switched to a new file).
    init?(_ path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        inode = UInt64(info.st_ino)
        size = Int(info.st_size)
        modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1_000_000_000
    }
}
