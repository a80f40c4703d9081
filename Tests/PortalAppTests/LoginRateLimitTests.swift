import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
@testable import PortalApp
import Testing

extension LoginAttempts {
    /// One whole failed attempt.
    mutating func fail(_ key: String, now: Date) {
        _ = begin(key, now: now)
        finish(key, succeeded: false, clearOnSuccess: true, now: now)
    }

    /// One whole successful attempt that clears the key.
    mutating func succeed(_ key: String, now: Date) {
        _ = begin(key, now: now)
        finish(key, succeeded: true, clearOnSuccess: true, now: now)
    }
}

@Suite("Login rate limiting")
struct LoginRateLimitTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("five failures in a minute lock the key for a minute, then twice as long")
    func lockoutGrows() {
        var attempts = LoginAttempts(maxFailures: 5)
        for second in 0..<4 { attempts.fail("k", now: start.addingTimeInterval(Double(second))) }
        #expect(attempts.retryAfter("k", now: start.addingTimeInterval(4)) == nil)
        attempts.fail("k", now: start.addingTimeInterval(4))
        #expect(attempts.retryAfter("k", now: start.addingTimeInterval(4)) == 60)
        #expect(attempts.retryAfter("k", now: start.addingTimeInterval(34)) == 30)
        #expect(attempts.retryAfter("k", now: start.addingTimeInterval(64)) == nil)
        #expect(attempts.retryAfter("other", now: start.addingTimeInterval(4)) == nil)
        for second in 70..<75 { attempts.fail("k", now: start.addingTimeInterval(Double(second))) }
        #expect(attempts.retryAfter("k", now: start.addingTimeInterval(74)) == 120)
    }

    @Test("failures spread over more than a minute never lock; a success clears the count")
    func slidingWindowAndSuccess() {
        var attempts = LoginAttempts(maxFailures: 5)
        for step in 0..<20 { attempts.fail("k", now: start.addingTimeInterval(Double(step) * 15)) }
        #expect(attempts.retryAfter("k", now: start.addingTimeInterval(300)) == nil)
        for second in 0..<4 { attempts.fail("j", now: start.addingTimeInterval(Double(second))) }
        attempts.succeed("j", now: start.addingTimeInterval(4))
        attempts.fail("j", now: start.addingTimeInterval(5))
        #expect(attempts.retryAfter("j", now: start.addingTimeInterval(5)) == nil)
    }

    @Test("attempts still being checked count, so a parallel burst cannot pass the limit")
    func inFlight() {
        var attempts = LoginAttempts(maxFailures: 5)
        for _ in 0..<5 { #expect(attempts.begin("k", now: start) == nil) }
        #expect(attempts.begin("k", now: start) == LoginAttempts.inFlightWait)
        attempts.finish("k", succeeded: false, clearOnSuccess: true, now: start)
        #expect(attempts.begin("k", now: start) == LoginAttempts.inFlightWait)
        for _ in 0..<4 { attempts.finish("k", succeeded: false, clearOnSuccess: true, now: start) }
        #expect(attempts.retryAfter("k", now: start) == 60)
        #expect(attempts.entries["k"]?.inFlight == 0)
    }

    @Test("a full table forgets only keys with no lockout in force")
    func fullTable() {
        var attempts = LoginAttempts(maxFailures: 1)
        attempts.fail("victim", now: start)
        for index in 0..<LoginAttempts.capacity { attempts.fail("k\(index)", now: start.addingTimeInterval(Double(index) / 1000)) }
        #expect(attempts.retryAfter("victim", now: start.addingTimeInterval(30)) != nil)
        #expect(attempts.entries.count <= LoginAttempts.capacity + 1)
    }

    @Test("the longest lockout is an hour")
    func lockoutCap() {
        var attempts = LoginAttempts(maxFailures: 1)
        var now = start
        for _ in 0..<12 {
            attempts.fail("k", now: now)
            now = now.addingTimeInterval(attempts.retryAfter("k", now: now) ?? 0)
        }
        attempts.fail("k", now: now)
        #expect(attempts.retryAfter("k", now: now) == 3600)
    }

    @Test("purging keeps only keys with recent failures or a lockout in force")
    func purge() {
        var attempts = LoginAttempts(maxFailures: 2)
        attempts.fail("old", now: start)
        attempts.fail("locked", now: start.addingTimeInterval(100))
        attempts.fail("locked", now: start.addingTimeInterval(100))
        attempts.fail("recent", now: start.addingTimeInterval(150))
        attempts.purge(now: start.addingTimeInterval(155))
        #expect(Set(attempts.entries.keys) == ["locked", "recent"])
    }

    @Test("the sixth try on an account within a minute gets 429 with Retry-After, even with the right password")
    func accountLockout() async throws {
        let fixture = try await AppFixture.make()
        try await PortalApplication.application(services: Self.withStoppedClock(fixture.services)).test(.router) { client in
            let page = try await AppRoutesTests.openLogin(client)
            for _ in 0..<LoginRateLimiter.accountFailures {
                let wrong = try await client.execute(uri: "/login", method: .post, headers: page.headers,
                                                     body: AppRoutesTests.form(email: "ana@escritorio.com.br", password: "errada-mas-longa",
                                                                               token: page.token))
                #expect(wrong.status == .unauthorized)
            }
            let right = try await client.execute(uri: "/login", method: .post, headers: page.headers,
                                                 body: AppRoutesTests.form(email: "ANA@escritorio.com.br", password: AppFixture.anaPassword,
                                                                           token: page.token))
            #expect(right.status == .tooManyRequests)
            let wait = try #require(right.headers[.retryAfter].flatMap { Int($0) })
            #expect((59...60).contains(wait))
            #expect(String(buffer: right.body).contains("Muitas tentativas de acesso"))
            #expect(right.headers[.setCookie] == nil)
            // Another account from the same address is not locked by Ana's count.
            let bruno = try await client.execute(uri: "/login", method: .post, headers: page.headers,
                                                 body: AppRoutesTests.form(email: "bruno@escritorio.com.br", password: "outra-senha-bem-longa",
                                                                           token: page.token))
            #expect(bruno.status == .seeOther)
        }
        await fixture.tearDown()
    }

    @Test("one address trying many accounts is locked after twenty failures")
    func addressLockout() async throws {
        let fixture = try await AppFixture.make()
        try await PortalApplication.application(services: Self.withStoppedClock(fixture.services)).test(.router) { client in
            let page = try await AppRoutesTests.openLogin(client)
            for index in 0..<LoginRateLimiter.addressFailures {
                let wrong = try await client.execute(uri: "/login", method: .post, headers: page.headers,
                                                     body: AppRoutesTests.form(email: "pessoa\(index)@escritorio.com.br",
                                                                               password: "errada-mas-longa", token: page.token))
                #expect(wrong.status == .unauthorized)
            }
            let next = try await client.execute(uri: "/login", method: .post, headers: page.headers,
                                                body: AppRoutesTests.form(email: "bruno@escritorio.com.br", password: "outra-senha-bem-longa",
                                                                          token: page.token))
            #expect(next.status == .tooManyRequests)
            #expect(next.headers[.retryAfter] != nil)
        }
        await fixture.tearDown()
    }

    /// The services with a limiter whose clock stands still: twenty bcrypt checks in a debug build
    /// on a loaded machine can take longer than the one-minute window the failures are counted in.
    static func withStoppedClock(_ services: AppServices) -> AppServices {
        var services = services
        let now = Date()
        services.loginLimiter = LoginRateLimiter(clock: { now })
        return services
    }
}
