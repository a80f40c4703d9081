import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
@testable import PortalApp
import PortalCore
import Testing

@Suite("Per-client request ceiling")
struct ClientRateLimitTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("a burst of one minute's allowance passes, the next waits for the refill")
    func bucket() {
        var budget = ClientRequestBudget(perMinute: 60)
        for _ in 0..<60 { #expect(budget.take("a", now: start) == nil) }
        #expect(budget.take("a", now: start) == 1)
        #expect(budget.take("b", now: start) == nil)
        #expect(budget.take("a", now: start.addingTimeInterval(0.5)).map { abs($0 - 0.5) < 1e-9 } == true)
        #expect(budget.take("a", now: start.addingTimeInterval(1)) == nil)
        #expect(budget.take("a", now: start.addingTimeInterval(1)) != nil)
        for second in 2..<62 { #expect(budget.take("a", now: start.addingTimeInterval(Double(second))) == nil) }
    }

    @Test("purging drops only addresses whose allowance is whole again")
    func purge() {
        var budget = ClientRequestBudget(perMinute: 60)
        _ = budget.take("idle", now: start)
        for _ in 0..<30 { _ = budget.take("busy", now: start.addingTimeInterval(50)) }
        budget.purge(now: start.addingTimeInterval(60))
        #expect(Set(budget.buckets.keys) == ["busy"])
    }

    @Test("over the ceiling the app answers 429 with Retry-After in Portuguese, per client address")
    func middleware() async throws {
        let fixture = try await AppFixture.make { $0.requestsPerMinutePerClient = 3 }
        try await PortalApplication.application(services: fixture.services).test(.live) { client in
            for _ in 0..<3 {
                let page = try await client.execute(uri: "/login", method: .get)
                #expect(page.status == .ok)
            }
            let refused = try await client.execute(uri: "/login", method: .get)
            #expect(refused.status == .tooManyRequests)
            let wait = try #require(refused.headers[.retryAfter].flatMap { Int($0) })
            #expect((1...20).contains(wait))
            #expect(String(buffer: refused.body).contains("Muitas requisições"))
            // Another client behind the trusted edge has its own allowance.
            let other = try await client.execute(uri: "/health", method: .get,
                                                 headers: [HTTPField.Name("X-Forwarded-For")!: "203.0.113.7"])
            #expect(other.status == .ok)
        }
        await fixture.tearDown()
    }

    @Test("waits are written in Portuguese with the right number")
    func waitText() {
        #expect(PortugueseDuration.text(seconds: 1) == "1 segundo")
        #expect(PortugueseDuration.text(seconds: 60) == "60 segundos")
        #expect(PortugueseDuration.text(seconds: 120) == "2 minutos")
        #expect(PortugueseDuration.text(seconds: 3600) == "60 minutos")
    }

    @Test("0 turns the ceiling off")
    func disabled() async throws {
        let fixture = try await AppFixture.make { $0.requestsPerMinutePerClient = 0 }
        try await PortalApplication.application(services: fixture.services).test(.router) { client in
            for _ in 0..<20 {
                let response = try await client.execute(uri: "/health", method: .get)
                #expect(response.status == .ok)
            }
        }
        await fixture.tearDown()
    }
}
