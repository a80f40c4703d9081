import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PortalCore
import PortalData
import PortalTestSupport
import Synchronization
import Testing

/// Nothing committed is lost: the app is killed with SIGKILL in the middle of a write-heavy
/// loop; after a restart every write it acknowledged is there, and no row is half-written.
@Suite("Crash durability (kill -9 during writes)", .serialized)
struct CrashDurabilityTests {
    final class Writes: Sendable {
        let acknowledged = Mutex<Set<String>>([])
        let stop = Atomic(false)
    }

    @Test("every acknowledged write survives a kill -9", arguments: TestDatabaseEngine.available)
    func killDuringWrites(engine: TestDatabaseEngine) async throws {
        let directory = try TemporaryDirectory(prefix: "portal-crash")
        defer { directory.remove() }
        var logger = Logger(label: "test.crash")
        logger.logLevel = .critical
        let (url, drop) = try await engine.freshDatabase(logger: logger)
        do {
            try await run(engine: engine, url: url, directory: directory, logger: logger)
        } catch {
            await drop()
            throw error
        }
        await drop()
    }

    private func run(engine: TestDatabaseEngine, url: String?, directory: TemporaryDirectory, logger: Logger) async throws {
        let dataDirectory = directory.file("data")
        var configuration = PortalConfiguration(dataDirectory: dataDirectory)
        configuration.database.url = url
        try DataDirectory(dataDirectory).prepare()
        let database = try PortalDatabase.open(configuration, logger: logger)
        try await database.migrate()
        let user = try await AccountStore(database: database.database()).createUser(
            email: "carga@escritorio.com.br", name: "Carga", password: "balancete-de-outubro", role: .colaborador)
        let token = try await APITokenStore(database: database.database()).create(userID: user.id, name: "carga", scope: .readWrite, days: 1).token
        await database.shutdown()

        let environment = url.map { ["PORTAL_DATABASE_URL": $0] } ?? [:]
        let port = try FreePort.allocate()
        let arguments = ["app", "--data-dir", dataDirectory, "--port", "\(port)"]
        // The per-token and per-address limits would stop the loop long before the kill.
        let limits = ["PORTAL_APP_API_REQUESTS_PER_MINUTE_PER_TOKEN": "0", "PORTAL_APP_REQUESTS_PER_MINUTE_PER_CLIENT": "0"]
        let first = try PortalProcess(arguments: arguments, outputDirectory: directory.path,
                                      environment: environment.merging(limits) { $1 })
        try first.start()
        defer { first.signal(SIGKILL) }
        try #require(await Self.waitUntilHealthy(port: port), "the app did not start: \(first.stderr)")

        let writes = Writes()
        let headers = [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    for number in 0..<2_000 where !writes.stop.load(ordering: .relaxed) {
                        let title = "carga-\(worker)-\(number)"
                        let body = #"{"title":"\#(title)","details":"detalhe-\#(title)"}"#
                        guard let response = try? await TestHTTPClient.request(port: port, method: .POST, path: "/api/v1/tasks",
                                                                                headers: headers, body: body, timeout: .seconds(5))
                        else { return }
                        if response.status == 201 { writes.acknowledged.withLock { _ = $0.insert(title) } }
                    }
                }
            }
            // Kill once enough writes are acknowledged, while the workers keep writing.
            for _ in 0..<600 where writes.acknowledged.withLock({ $0.count }) < 150 {
                try await Task.sleep(for: .milliseconds(50))
            }
            first.signal(SIGKILL)
            _ = await first.waitForExit(seconds: 10)
            writes.stop.store(true, ordering: .relaxed)
            try await group.waitForAll()
        }
        let acknowledged = writes.acknowledged.withLock { $0 }
        #expect(acknowledged.count >= 150, "too few writes before the kill: \(acknowledged.count)")

        let second = try PortalProcess(arguments: arguments, outputDirectory: directory.path, environment: environment)
        try second.start()
        defer { second.signal(SIGKILL) }
        try #require(await Self.waitUntilHealthy(port: port), "the app did not restart: \(second.stderr)")
        let list = try await TestHTTPClient.request(port: port, path: "/api/v1/tasks", headers: headers, timeout: .seconds(20))
        #expect(list.status == 200)
        let object = try JSONSerialization.jsonObject(with: Data(list.body.utf8)) as? [String: Any]
        let tasks = try #require(object?["tasks"] as? [[String: Any]])
        let titles = Set(tasks.compactMap { $0["title"] as? String })
        let lost = acknowledged.subtracting(titles)
        #expect(lost.isEmpty, "\(engine): \(lost.count) acknowledged writes lost, e.g. \(lost.prefix(3))")
        // Whole rows only: every stored task has the details written with its title.
        let torn = tasks.filter { ($0["details"] as? String) != "detalhe-" + (($0["title"] as? String) ?? "") }
        #expect(torn.isEmpty, "\(engine): half-written rows: \(torn.prefix(3))")
        second.signal(SIGTERM)
        #expect(await second.waitForExit(seconds: 20) == 0)
    }

    static func waitUntilHealthy(port: Int) async -> Bool {
        for _ in 0..<300 {
            if let health = try? await TestHTTPClient.request(port: port, path: "/health", timeout: .seconds(2)), health.status == 200 {
                return true
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}
