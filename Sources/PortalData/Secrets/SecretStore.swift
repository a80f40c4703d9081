import Crypto
public import Foundation
public import PortalCore

/// Keys the app needs (the seed's `SECRET_KEY`, `CSRF_SECRET_KEY`…), never shipped and never weak.
///
/// A secret comes from `PORTAL_SECRET_<NAME>` in the environment, or from the file named by
/// `PORTAL_SECRET_<NAME>_FILE`, or else from `<data_dir>/secrets/<name>.key`, generated at first
/// start (32 random bytes, base64, mode 0600).
public struct SecretStore: Sendable {
    public let directory: String
    private let environment: [String: String]

    public init(dataDirectory: DataDirectory, environment: [String: String]? = nil) {
        self.directory = dataDirectory.secretsDirectory
        self.environment = environment ?? ProcessInfo.processInfo.environment
    }

    /// Values published in the seed document and other well-known placeholders: never accepted.
    static let knownWeakValues: Set<String> = [
        "TI02JPCONTABIL", "TI02JPCONTABIL_CSRF", "53fr8VJIQK5rEklEDlZrx4vftzV0SsnjLhXtwxvYNxc=",
        "changeme", "change-me", "secret", "password", "dev", "development", "test",
        "your-secret-key", "supersecret", "default",
    ]

    /// The secret `name` (e.g. `session`), created on first use when it is not configured.
    public func secret(_ name: String) throws -> Data {
        let variable = "PORTAL_SECRET_\(name.uppercased())"
        if let value = environment[variable] {
            return try validated(value, source: "environment variable \(variable)", variable: variable)
        }
        if let file = environment["\(variable)_FILE"] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw SecretError("cannot read \(file) named by \(variable)_FILE")
            }
            return try validated(text.trimmingCharacters(in: .whitespacesAndNewlines), source: file, variable: variable)
        }
        let path = (directory as NSString).appendingPathComponent("\(name).key")
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            return try validated(text.trimmingCharacters(in: .whitespacesAndNewlines), source: path, variable: variable)
        }
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let encoded = Data(bytes).base64EncodedString()
        try SecureFile.write(encoded + "\n", to: path, mode: 0o600)
        return Data(bytes)
    }

    /// A secret someone else issued (the Google client secret): from `PORTAL_SECRET_<NAME>`, the
    /// file named by `PORTAL_SECRET_<NAME>_FILE`, or `<data_dir>/secrets/<name>.key`; never
    /// generated. Nil when none of them is set; placeholder values are refused.
    public func provided(_ name: String) throws -> String? {
        let variable = "PORTAL_SECRET_\(name.uppercased())"
        let value: String, source: String
        if let text = environment[variable] {
            (value, source) = (text, "environment variable \(variable)")
        } else if let file = environment["\(variable)_FILE"] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw SecretError("cannot read \(file) named by \(variable)_FILE")
            }
            (value, source) = (text, file)
        } else {
            let path = (directory as NSString).appendingPathComponent("\(name).key")
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw SecretError("cannot read \(path)") }
            (value, source) = (text, path)
        }
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw SecretError("the secret in \(source) is empty") }
        if Self.knownWeakValues.contains(trimmed.lowercased()) || Self.knownWeakValues.contains(trimmed) {
            throw SecretError("the secret in \(source) is a placeholder value; put the real \(name) secret there")
        }
        return trimmed
    }

    private func validated(_ value: String, source: String, variable: String) throws -> Data {
        if Self.knownWeakValues.contains(value) || Self.knownWeakValues.contains(value.lowercased()) {
            throw SecretError("""
                the secret in \(source) is a published or placeholder value and is refused; remove it to let \
                Portal generate one, or set \(variable) to the output of `openssl rand -base64 32`
                """)
        }
        let bytes = Data(base64Encoded: value) ?? Data(value.utf8)
        guard bytes.count >= 32, Set(bytes).count >= 8 else {
            throw SecretError("""
                the secret in \(source) is too weak (it needs at least 32 random bytes); set \(variable) to \
                the output of `openssl rand -base64 32`
                """)
        }
        return bytes
    }
}

/// A secret is missing, unreadable or too weak; the message says how to fix it.
public struct SecretError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) {
        self.description = description
    }
}
