import Crypto
import Foundation
import PortalCore

/// A backup on disk: `portal-<engine>-YYYYMMDD-HHMMSS.<ext>` beside `<name>.sha256` (the
/// `sha256sum` format, so `sha256sum -c` checks it too).
public struct BackupFile: Sendable, Equatable {
    public let path: String
    public var checksumPath: String { path + ".sha256" }

    /// The file extensions by engine: a gzip'd SQLite database, or pg_dump's custom format.
    static let sqliteExtension = ".sqlite.gz"
    static let postgresExtension = ".pgdump"
    static let mariadbExtension = ".sql.gz"

    public var isSQLite: Bool { path.hasSuffix(Self.sqliteExtension) }
    public var isPostgres: Bool { path.hasSuffix(Self.postgresExtension) }
    public var isMariaDB: Bool { path.hasSuffix(Self.mariadbExtension) && !isSQLite }

    public init(path: String) {
        self.path = path
    }

    /// The name of a new backup of `engine` (`sqlite` or `postgres`) taken at `date` (UTC).
    static func name(engine: String, at date: Date) -> String {
        let suffix = switch engine {
        case "sqlite": sqliteExtension
        case "postgres": postgresExtension
        default: mariadbExtension
        }
        return "portal-\(engine)-\(stampFormatter().string(from: date))" + suffix
    }

    /// When a backup named by `name` was taken, read from its name; nil for other files.
    static func date(ofName name: String) -> Date? {
        guard name.hasPrefix("portal-"),
              name.hasSuffix(sqliteExtension) || name.hasSuffix(postgresExtension) || name.hasSuffix(mariadbExtension)
        else { return nil }
        let parts = name.split(separator: "-")
        guard parts.count >= 4 else { return nil }
        let stamp = parts[2] + "-" + parts[3].prefix(6)
        return stampFormatter().date(from: String(stamp))
    }

    /// `yyyyMMdd-HHmmss` in UTC, the time in backup names.
    private static func stampFormatter() -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return formatter
    }

    /// Moves a finished `partial` file into place and writes its checksum beside it, so a
    /// backup appears under its final name only when it is complete.
    func publish(from partial: String) throws {
        try FileManager.default.moveItem(atPath: partial, toPath: path)
        try writeChecksum()
    }

    /// Writes the checksum file for the backup.
    func writeChecksum() throws {
        let line = try Self.sha256(of: path) + "  " + (path as NSString).lastPathComponent + "\n"
        guard FileManager.default.createFile(atPath: checksumPath, contents: Data(line.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw BackupError("cannot write \(checksumPath)")
        }
    }

    /// Checks the backup against its checksum file; throws saying what is wrong.
    public func verify() throws {
        guard FileManager.default.fileExists(atPath: path) else { throw BackupError("\(path) does not exist") }
        guard let text = try? String(contentsOfFile: checksumPath, encoding: .utf8) else {
            throw BackupError("\(checksumPath) is missing: without it the backup cannot be verified")
        }
        guard let expected = text.split(separator: " ").first.map(String.init), expected.count == 64 else {
            throw BackupError("\(checksumPath) does not hold a SHA-256 checksum")
        }
        let actual = try Self.sha256(of: path)
        guard actual == expected.lowercased() else {
            throw BackupError("\(path) does not match its checksum (expected \(expected), found \(actual)): the file is damaged or was changed")
        }
    }

    /// SHA-256 of a file, read in 1 MiB pieces, as lowercase hex.
    static func sha256(of path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw BackupError("cannot read \(path)") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let data = try handle.read(upToCount: 1 << 20), !data.isEmpty {
            hasher.update(data: data)
        }
        return HexDigest.string(hasher.finalize())
    }
}
