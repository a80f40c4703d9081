import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PortalApp
import PortalData
import PortalTestSupport
import Synchronization
import Testing

/// The database server (PostgreSQL, MariaDB) goes away under load and comes back: requests fail fast with `503`,
/// `/health` says so, and the app recovers by itself, with no restart and no `500`.
@Suite("Database outage and recovery", .serialized)
struct DatabaseOutageTests {
    @Test("a database server cut off and restored under load",
          arguments: TestDatabaseEngine.available.filter { $0 != .sqlite })
    func serverOutage(engine: TestDatabaseEngine) async throws {
        let relay = Mutex<TCPForwarder?>(nil)
        let fixture = try await AppFixture.make(engine: engine, throughURL: { url in
            guard var components = URLComponents(string: url), let host = components.host, let port = components.port else {
                throw TestDatabaseError("unexpected database URL")
            }
            let forwarder = try await TCPForwarder.start(to: host, port: port)
            relay.withLock { $0 = forwarder }
            components.host = "127.0.0.1"
            components.port = forwarder.port
            return components.string ?? url
        })
        let forwarder = try #require(relay.withLock { $0 })
        do {
            try await PortalApplication.application(services: fixture.services).test(.router) { client in
                let cookie = try await SessionPageTests.signIn(client, email: "ana@escritorio.com.br",
                                                               password: AppFixture.anaPassword, browser: "t")
                #expect(try await SessionPageTests.get(client, "/tasks", cookie: cookie).status == .ok)

                // Background load: at most 2,000 requests, stopping when the test says so.
                let load = Load()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<4 {
                        group.addTask {
                            for _ in 0..<500 where load.running.load(ordering: .relaxed) {
                                let response = try await SessionPageTests.get(client, "/tasks", cookie: cookie)
                                load.statuses.withLock { $0[Int(response.status.code), default: 0] += 1 }
                                try await Task.sleep(for: .milliseconds(5))
                            }
                        }
                    }

                    await forwarder.cut()
                    let down = try await Self.waitFor(client, "/health", status: .serviceUnavailable, seconds: 10)
                    #expect(down, "/health did not report the outage")
                    let started = ContinuousClock.now
                    let page = try await SessionPageTests.get(client, "/tasks", cookie: cookie)
                    #expect(page.status == .serviceUnavailable)
                    #expect(page.headers[.retryAfter] == "5")
                    #expect(String(buffer: page.body).contains("banco de dados está indisponível"))
                    #expect(ContinuousClock.now - started < .seconds(3), "an outage must fail fast")
                    let health = try await client.execute(uri: "/health", method: .get)
                    #expect(String(buffer: health.body).contains(#""database":"error""#))

                    try await forwarder.restore()
                    let up = try await Self.waitFor(client, "/health", status: .ok, seconds: 20)
                    #expect(up, "the app did not recover by itself")
                    // The load runs on until it has been served again after the recovery.
                    let recoveredAt = load.statuses.withLock { $0[200, default: 0] }
                    let deadline = ContinuousClock.now + .seconds(10)
                    while load.statuses.withLock({ $0[200, default: 0] }) <= recoveredAt, ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    load.running.store(false, ordering: .relaxed)
                    try await group.waitForAll()
                }
                // The session lived through the outage; nothing answered 500.
                #expect(try await SessionPageTests.get(client, "/tasks", cookie: cookie).status == .ok)
                let seen = load.statuses.withLock { $0 }
                #expect(Set(seen.keys).isSubset(of: [200, 503]), "statuses under load: \(seen)")
                #expect(seen[503, default: 0] > 0)
                #expect(seen[200, default: 0] > 0)
            }
        } catch {
            await forwarder.stop()
            await fixture.tearDown()
            throw error
        }
        await forwarder.stop()
        await fixture.tearDown()
    }

    /// What the background requests share: whether to go on, and the statuses seen.
    final class Load: Sendable {
        let running = Atomic(true)
        let statuses = Mutex<[Int: Int]>([:])
    }

    static func waitFor(_ client: some TestClientProtocol, _ uri: String, status: HTTPResponse.Status, seconds: Double) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if try await client.execute(uri: uri, method: .get).status == status { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}
