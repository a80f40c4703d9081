import Foundation
import NIOCore
import PortalTestSupport
import Testing

/// `portal backup` and `portal restore` as an operator runs them.
@Suite("portal backup and portal restore", .serialized)
struct BackupCommandsTests {
    @Test("backup while the app runs; restore refused under a running app and into a non-empty database, then done")
    func backupAndRestore() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-backup-cli")
        defer { directory.remove() }
        let data = directory.file("data")
        let created = try await PortalProcess.run(["user", "create", "--data-dir", data, "--email", "chefe@escritorio.com.br",
                                                   "--name", "Chefe", "--role", "admin", "--password-stdin"],
                                                  outputDirectory: directory.path, input: "livro-caixa-do-escritorio\n")
        #expect(created.status == 0, "\(created.stderr)")
        let port = try FreePort.allocate()
        let app = try PortalProcess(arguments: ["app", "--data-dir", data, "--port", "\(port)"], outputDirectory: directory.path)
        try app.start()
        defer { app.signal(SIGKILL) }
        try #require(await CrashDurabilityTests.waitUntilHealthy(port: port), "the app did not start: \(app.stderr)")

        let backup = try await PortalProcess.run(["backup", "--data-dir", data], outputDirectory: directory.path)
        #expect(backup.status == 0, "\(backup.stderr)")
        #expect(backup.stdout.contains("backup written: "))
        let folder = data + "/backups"
        let file = try #require(try FileManager.default.contentsOfDirectory(atPath: folder).first { $0.hasSuffix(".sqlite.gz") })
        #expect(FileManager.default.fileExists(atPath: folder + "/" + file + ".sha256"))

        let underApp = try await PortalProcess.run(["restore", "--data-dir", data, "--force", folder + "/" + file],
                                                   outputDirectory: directory.path)
        #expect(underApp.status != 0)
        #expect(underApp.stderr.contains("the portal is running on data directory"), "\(underApp.stderr)")

        app.signal(SIGTERM)
        #expect(await app.waitForExit(seconds: 20) == 0)
        let nonEmpty = try await PortalProcess.run(["restore", "--data-dir", data, folder + "/" + file], outputDirectory: directory.path)
        #expect(nonEmpty.status != 0)
        #expect(nonEmpty.stderr.contains("is not empty (1 user); pass --force"), "\(nonEmpty.stderr)")
        let other = directory.file("other")
        let restored = try await PortalProcess.run(["restore", "--data-dir", other, folder + "/" + file], outputDirectory: directory.path)
        #expect(restored.status == 0, "\(restored.stderr)")
        let list = try await PortalProcess.run(["user", "list", "--data-dir", other], outputDirectory: directory.path)
        #expect(list.stdout.contains("chefe@escritorio.com.br"))

        let bad = try await PortalProcess.run(["backup", "--data-dir", data, "--keep-days", "9999"], outputDirectory: directory.path)
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("--keep-days must be from 0 to 3650"))
    }
}
