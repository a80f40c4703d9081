public import Foundation
import FluentKit
import NIOPosix
public import Logging
public import PortalCore
import SQLKit

/// Backups of the portal's database and their restore, on each engine: SQLite by `VACUUM INTO`
/// (a consistent copy while the app keeps running) then gzip; PostgreSQL by `pg_dump` in its
/// compressed custom format. Each backup gets a SHA-256 checksum file; old ones are pruned.
public struct DatabaseBackup: Sendable {
    public let configuration: PortalConfiguration

    public init(configuration: PortalConfiguration) {
        self.configuration = configuration
    }

    /// What the configuration points at.
    var target: DatabaseURL {
        configuration.database.url.flatMap(DatabaseURL.init) ?? .sqlite(path: DataDirectory(configuration.dataDirectory).databaseFile)
    }

    /// Where backups go when no folder is given: `<data_dir>/backups`.
    public var defaultDirectory: String {
        (configuration.dataDirectory as NSString).appendingPathComponent("backups")
    }

    /// Takes a backup of `database` into `directory` (created 0700 when missing).
    public func create(from database: PortalDatabase, into directory: String, now: Date = Date()) async throws -> BackupFile {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw BackupError("cannot create the backup folder \(directory): \(error.localizedDescription)")
        }
        switch target {
        case .sqlite:
            let file = BackupFile(path: (directory as NSString).appendingPathComponent(BackupFile.name(engine: "sqlite", at: now)))
            let copy = file.path + ".copy"
            let partial = file.path + ".partial"
            defer {
                try? FileManager.default.removeItem(atPath: copy)
                try? FileManager.default.removeItem(atPath: partial)
            }
            guard let sql = try database.database() as? any SQLDatabase else { throw BackupError("the database does not speak SQL") }
            // VACUUM INTO fills an existing empty file, which keeps the mode given here (0600),
            // whatever the process's umask and the folder's permissions.
            guard FileManager.default.createFile(atPath: copy, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw BackupError("cannot write \(copy)")
            }
            try await sql.raw("VACUUM INTO \(bind: copy)").run()
            try await Self.offLoop {
                try GzipFile.compress(copy, to: partial)
                try file.publish(from: partial)
            }
            return file
        case .postgres(let url):
            let file = BackupFile(path: (directory as NSString).appendingPathComponent(BackupFile.name(engine: "postgres", at: now)))
            let partial = file.path + ".partial"
            defer { try? FileManager.default.removeItem(atPath: partial) }
            let connection = PostgresConnectionString(url)
            try await Self.offLoop {
                try ExternalProgram.run("pg_dump", ["--format=custom", "--compress=6", "--no-owner", "--no-privileges",
                                                    "--file=\(partial)", "--dbname=\(connection.uri)"],
                                        environment: connection.environment)
                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: partial)
                try file.publish(from: partial)
            }
            return file
        case .mysql(let url):
            let file = BackupFile(path: (directory as NSString).appendingPathComponent(BackupFile.name(engine: "mariadb", at: now)))
            let dump = file.path + ".dump"
            let partial = file.path + ".partial"
            defer {
                try? FileManager.default.removeItem(atPath: dump)
                try? FileManager.default.removeItem(atPath: partial)
            }
            let client = MariaDBClientArguments(url)
            try await Self.offLoop {
                guard FileManager.default.createFile(atPath: dump, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                    throw BackupError("cannot write \(dump)")
                }
                // One consistent snapshot of InnoDB tables, without locking the portal out.
                try ExternalProgram.run("mariadb-dump", client.arguments + [
                    "--single-transaction", "--skip-lock-tables", "--no-tablespaces", "--default-character-set=utf8mb4",
                    "--result-file=\(dump)", client.database,
                ], environment: client.environment)
                try GzipFile.compress(dump, to: partial)
                try file.publish(from: partial)
            }
            return file
        }
    }

    /// Runs blocking file and process work on NIO's thread pool, never on an event loop or the
    /// concurrency pool's few threads.
    static func offLoop(_ work: @Sendable @escaping () throws -> Void) async throws {
        try await NIOThreadPool.singleton.runIfActive(work)
    }

    /// Removes the backups in `directory` taken more than `keepDays` days before `now` (by the
    /// time in their names), with their checksum files; returns the names removed.
    public func prune(_ directory: String, keepDays: Int, now: Date = Date()) throws -> [String] {
        let limit = now.addingTimeInterval(-Double(keepDays) * 86_400)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var removed: [String] = []
        for name in names.sorted() {
            guard let taken = BackupFile.date(ofName: name), taken < limit else { continue }
            let path = (directory as NSString).appendingPathComponent(name)
            try FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: path + ".sha256")
            removed.append(name)
        }
        return removed
    }

    /// Restores `file` into the configured database after checking its checksum. The target must
    /// be empty (no users) unless `force`; the app must not be running on it.
    public func restore(_ file: BackupFile, force: Bool, logger: Logger) async throws {
        try file.verify()
        switch target {
        case .sqlite(let path):
            guard file.isSQLite else { throw BackupError("\(file.path) is not an SQLite backup; restore it on the engine it came from") }
            try await restoreSQLite(file, into: path, force: force, logger: logger)
        case .postgres(let url):
            guard file.isPostgres else { throw BackupError("\(file.path) is not a PostgreSQL backup; restore it on the engine it came from") }
            try await restorePostgres(file, into: url, force: force, logger: logger)
        case .mysql(let url):
            guard file.isMariaDB else { throw BackupError("\(file.path) is not a MariaDB backup; restore it on the engine it came from") }
            try await restoreMariaDB(file, into: url, force: force, logger: logger)
        }
    }

    private func restoreMariaDB(_ file: BackupFile, into url: URL, force: Bool, logger: Logger) async throws {
        let staged = NSTemporaryDirectory() + "portal-restore-\(UUID().uuidString).sql"
        defer { try? FileManager.default.removeItem(atPath: staged) }
        try await Self.offLoop { try GzipFile.decompress(file.path, to: staged) }
        try await withDatabase(url: url.absoluteString, logger: logger) { sql in
            let tables = try await sql.raw("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()")
                .all().map { try $0.decode(column: "name", as: String.self) }
            guard !tables.isEmpty else { return }
            guard force else {
                throw BackupError("the database \(url.path.dropFirst()) is not empty (\(tables.count) \(tables.count == 1 ? "table" : "tables")); pass --force to replace it")
            }
            // One statement, so the session setting and the drops cannot land on different connections.
            let list = SQLList(tables.map { SQLIdentifier($0) })
            try await sql.raw("DROP TABLE \(list)").run()
        }
        let client = MariaDBClientArguments(url)
        try await Self.offLoop {
            try ExternalProgram.run("mariadb", client.arguments + ["--default-character-set=utf8mb4", client.database],
                                    environment: client.environment, standardInput: staged)
        }
    }

    private func restoreSQLite(_ file: BackupFile, into path: String, force: Bool, logger: Logger) async throws {
        let staged = path + ".restoring"
        defer { try? FileManager.default.removeItem(atPath: staged) }
        try? FileManager.default.removeItem(atPath: staged)
        try GzipFile.decompress(file.path, to: staged)
        // The restored file must be a sound database holding the portal's tables.
        try await withDatabase(url: "sqlite://" + staged, logger: logger) { sql in
            let check = try await sql.raw("PRAGMA integrity_check").all().first?.decode(column: "integrity_check", as: String.self)
            guard check == "ok" else { throw BackupError("\(file.path) does not hold a sound SQLite database (\(check ?? "no answer"))") }
            _ = try await Self.userCount(sql)
        }
        if FileManager.default.fileExists(atPath: path), !force {
            let users = try await withDatabase(url: "sqlite://" + path, logger: logger) { try await Self.userCount($0) }
            if users ?? 0 > 0 {
                throw BackupError("the database \(path) is not empty (\(users ?? 0) \(users == 1 ? "user" : "users")); pass --force to replace it")
            }
        }
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        try FileManager.default.moveItem(atPath: staged, toPath: path)
    }

    private func restorePostgres(_ file: BackupFile, into url: URL, force: Bool, logger: Logger) async throws {
        // pg_restore must be able to read this file (installed, and not older than the pg_dump
        // that wrote it) before anything in the target is dropped.
        try await Self.offLoop { try ExternalProgram.run("pg_restore", ["--list", file.path]) }
        try await withDatabase(url: url.absoluteString, logger: logger) { sql in
            let tables = try await sql.raw("SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public'")
                .all().first?.decode(column: "n", as: Int.self) ?? 0
            guard tables > 0 else { return }
            guard force else {
                let name = url.path.dropFirst()
                throw BackupError("the database \(name) is not empty (\(tables) \(tables == 1 ? "table" : "tables")); pass --force to replace it")
            }
            try await sql.raw("DROP SCHEMA public CASCADE").run()
            try await sql.raw("CREATE SCHEMA public").run()
        }
        let connection = PostgresConnectionString(url)
        try ExternalProgram.run("pg_restore", ["--no-owner", "--no-privileges", "--exit-on-error",
                                               "--dbname=\(connection.uri)", file.path],
                                environment: connection.environment)
    }

    /// Users in the database, or nil when it has no users table yet.
    private static func userCount(_ sql: any SQLDatabase) async throws -> Int? {
        let tables = try await sql.raw("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'users'")
            .all().first?.decode(column: "n", as: Int.self) ?? 0
        guard tables > 0 else { return nil }
        return try await sql.raw("SELECT count(*) AS n FROM users").all().first?.decode(column: "n", as: Int.self)
    }

    private func withDatabase<T>(url: String, logger: Logger, _ body: (any SQLDatabase) async throws -> T) async throws -> T {
        var settings = configuration
        settings.database.url = url
        settings.database.poolSize = 1
        settings.database.maxOverflow = 0
        let database = try PortalDatabase.open(settings, logger: logger)
        do {
            guard let sql = try database.database() as? any SQLDatabase else { throw BackupError("the database does not speak SQL") }
            let value = try await body(sql)
            await database.shutdown()
            return value
        } catch {
            await database.shutdown()
            throw error
        }
    }
}

/// libpq's view of a `postgres://` URL: the URI without the password, which travels in
/// `PGPASSWORD` so it never shows in the process list.
struct PostgresConnectionString {
    let uri: String
    let environment: [String: String]

    init(_ url: URL) {
        var components = URLComponents(url: url, resolvingAgainstBaseURL: false) ?? URLComponents()
        let password = components.password
        components.password = nil
        let mode = components.queryItems?.first { ["tlsmode", "sslmode", "tls", "ssl"].contains($0.name) }?.value ?? "prefer"
        let sslmode = switch mode {
        case "disable", "false": "disable"
        case "require", "verify-ca", "verify-full": "verify-full"
        default: "prefer"
        }
        components.queryItems = [URLQueryItem(name: "sslmode", value: sslmode)]
        components.scheme = "postgresql"
        uri = components.string ?? url.absoluteString
        environment = password.map { ["PGPASSWORD": $0] } ?? [:]
    }
}

/// The MariaDB client tools' view of a `mysql://` URL; the password travels in `MYSQL_PWD`, so
/// it never shows in the process list.
struct MariaDBClientArguments {
    let arguments: [String]
    let database: String
    let environment: [String: String]

    init(_ url: URL) {
        let components = URLComponents(url: url, resolvingAgainstBaseURL: false) ?? URLComponents()
        var arguments = ["--host=\(components.host ?? "127.0.0.1")", "--port=\(components.port ?? 3306)",
                         "--user=\(components.user ?? "")", "--protocol=TCP"]
        let mode = components.queryItems?.first { ["tlsmode", "sslmode", "tls", "ssl"].contains($0.name) }?.value ?? ""
        if ["require", "verify-ca", "verify-full", "true"].contains(mode) { arguments += ["--ssl", "--ssl-verify-server-cert"] }
        self.arguments = arguments
        database = String(components.path.dropFirst())
        environment = components.password.map { ["MYSQL_PWD": $0] } ?? [:]
    }
}
