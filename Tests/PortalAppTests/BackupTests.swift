import Foundation
import Logging
import PortalApp
import PortalCore
import PortalData
import PortalTestSupport
import Testing

/// `portal backup` and `portal restore` underneath: a round trip on each engine, checksums,
/// refusals, retention.
@Suite("Backups and restore")
struct BackupTests {
    static var logger: Logger {
        var logger = Logger(label: "test.backup")
        logger.logLevel = .critical
        return logger
    }

    /// Everything a restore must bring back, read through the stores.
    static func snapshot(_ database: PortalDatabase) async throws -> [String] {
        let handle = try database.database()
        let users = try await AccountStore(database: handle).users()
        var lines = users.map { "user \($0.id) \($0.email) \($0.role.rawValue) \($0.active)" }
        for user in users {
            lines += try await TaskStore(database: handle).tasks(assignedTo: user.id).map { "task \($0.id) \($0.title) \($0.status.rawValue)" }
            lines += try await APITokenStore(database: handle).tokens(ofUser: user.id).map { "token \($0.id) \($0.name) \($0.scope.rawValue)" }
        }
        for user in users {
            lines += try await CompanyStore(database: handle).companies(visibleTo: user)
                .filter { $0.responsibleID == user.id }.map { "company \($0.id) \($0.cnpj)" }
        }
        lines += try await AuditLog(database: handle).events().map { "audit \($0.id) \($0.kind.rawValue) \($0.email)" }
        return lines
    }

    /// The message of the `BackupError` that `body` throws, or nil when it succeeds.
    static func failure(_ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch let error as BackupError {
            return error.description
        } catch {
            return "unexpected error: \(error)"
        }
    }

    @Test("a backup restores into an empty database with everything in it", arguments: TestDatabaseEngine.available)
    func roundTrip(engine: TestDatabaseEngine) async throws {
        try await AppFixture.with(engine: engine, configure: { _ in }) { source in
            let handle = try source.database.database()
            try await CompanyStore(database: handle).create(name: "Padaria", cnpj: "11222333000181", responsibleID: source.ana.id)
            _ = try await APITokenStore(database: handle).create(userID: source.ana.id, name: "planilha", scope: .read, days: 30)
            try await AuditLog(database: handle).record(AuditEvent(kind: .logout, userID: source.ana.id, email: source.ana.email, clientIP: "127.0.0.1"))
            let before = try await Self.snapshot(source.database)

            let folder = source.directory.file("backups")
            let file = try await DatabaseBackup(configuration: source.configuration).create(from: source.database, into: folder)
            #expect(file.path.hasSuffix([.sqlite: ".sqlite.gz", .postgres: ".pgdump", .mariadb: ".sql.gz"][engine] ?? "?"))
            let checksum = try String(contentsOfFile: file.checksumPath, encoding: .utf8)
            #expect(checksum.hasSuffix("  " + (file.path as NSString).lastPathComponent + "\n"))
            let digits = checksum.prefix(64)
            #expect(digits.allSatisfy { $0.isHexDigit })
            try file.verify()

            // Into a new, empty database of the same engine.
            let target = try TemporaryDirectory(prefix: "portal-restore")
            defer { target.remove() }
            var configuration = PortalConfiguration(dataDirectory: target.path)
            try DataDirectory(target.path).prepare()
            let (url, drop) = try await engine.freshDatabase(logger: Self.logger)
            configuration.database.url = url
            do {
                try await DatabaseBackup(configuration: configuration).restore(file, force: false, logger: Self.logger)
                let restored = try PortalDatabase.open(configuration, logger: Self.logger)
                try await restored.migrate()
                let after = try await Self.snapshot(restored)
                // A second restore over data is refused without --force, and allowed with it.
                try await CompanyStore(database: restored.database()).create(name: "Nova", cnpj: "11444777000161", responsibleID: source.bruno.id)
                await restored.shutdown()
                #expect(after == before)
                let refusal = await Self.failure { try await DatabaseBackup(configuration: configuration).restore(file, force: false, logger: Self.logger) }
                #expect(refusal?.contains("is not empty") == true)
                try await DatabaseBackup(configuration: configuration).restore(file, force: true, logger: Self.logger)
                let again = try PortalDatabase.open(configuration, logger: Self.logger)
                let forced = try await Self.snapshot(again)
                await again.shutdown()
                #expect(forced == before)
            } catch {
                await drop()
                throw error
            }
            await drop()
        }
    }

    @Test("a damaged backup or a missing checksum is refused before anything changes")
    func damaged() async throws {
        try await AppFixture.with(configure: { _ in }) { source in
            let folder = source.directory.file("backups")
            let file = try await DatabaseBackup(configuration: source.configuration).create(from: source.database, into: folder)
            let target = try TemporaryDirectory(prefix: "portal-restore")
            defer { target.remove() }
            let configuration = PortalConfiguration(dataDirectory: target.path)
            try DataDirectory(target.path).prepare()

            let handle = try #require(FileHandle(forWritingAtPath: file.path))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data([0x00]))
            try handle.close()
            let damaged = await Self.failure { try await DatabaseBackup(configuration: configuration).restore(file, force: true, logger: Self.logger) }
            #expect(damaged?.contains("does not match its checksum") == true)
            try FileManager.default.removeItem(atPath: file.checksumPath)
            let missing = await Self.failure { try await DatabaseBackup(configuration: configuration).restore(file, force: true, logger: Self.logger) }
            #expect(missing?.contains("is missing") == true)
            #expect(!FileManager.default.fileExists(atPath: DataDirectory(target.path).databaseFile))
        }
    }

    @Test("backups older than the retention are removed with their checksums; others stay")
    func retention() throws {
        let folder = try TemporaryDirectory(prefix: "portal-backups")
        defer { folder.remove() }
        let names = ["portal-sqlite-20261001-030000.sqlite.gz", "portal-postgres-20261020-030000.pgdump",
                     "portal-sqlite-20261124-030000.sqlite.gz", "notes.txt"]
        for name in names {
            _ = FileManager.default.createFile(atPath: folder.file(name), contents: Data("x".utf8))
            _ = FileManager.default.createFile(atPath: folder.file(name + ".sha256"), contents: Data("x".utf8))
        }
        let now = try #require(ISO8601DateFormatter().date(from: "2026-11-25T00:00:00Z"))
        let removed = try DatabaseBackup(configuration: PortalConfiguration(dataDirectory: folder.path)).prune(folder.path, keepDays: 30, now: now)
        #expect(removed == ["portal-postgres-20261020-030000.pgdump", "portal-sqlite-20261001-030000.sqlite.gz"])
        let left = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(left == ["notes.txt", "notes.txt.sha256", "portal-sqlite-20261124-030000.sqlite.gz",
                         "portal-sqlite-20261124-030000.sqlite.gz.sha256"])
    }
}

@Suite("Scheduled backups")
struct ScheduledBackupTests {
    @Test("at the configured time the app writes a backup by itself")
    func runsAtTime() async throws {
        try await AppFixture.with(configure: { _ in }) { fixture in
            var configuration = fixture.configuration
            configuration.database.backupSchedule = "daily"
            configuration.database.backupTime = "02:30"
            let folder = fixture.directory.file("agendados")
            configuration.database.backupDirectory = folder
            // The clock says it is one second before 02:30.
            let time = try #require(BackupTime("02:30"))
            let target = time.next(after: Date())
            let service = ScheduledBackupService(database: fixture.database, configuration: configuration,
                                                 logger: BackupTests.logger, now: { target.addingTimeInterval(-1) })
            let task = Task { try await service.run() }
            var written: [String] = []
            for _ in 0..<100 where written.isEmpty {
                try await Task.sleep(for: .milliseconds(50))
                written = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".sqlite.gz") }
            }
            task.cancel()
            _ = await task.result
            #expect(written.count == 1)
            let file = BackupFile(path: folder + "/" + (written.first ?? ""))
            try file.verify()
        }
    }
}
