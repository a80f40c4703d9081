@testable import Edge
import NIOCore
import NIOHTTP1
import PortalCore
import PortalTestSupport
import Testing

@Suite("Edge: choosing among a route's upstreams", .serialized)
struct EdgeBalancingTests {
    static func address(_ port: Int) -> HostAndPort { HostAndPort(host: "127.0.0.1", port: port) }

    @Test("round-robin per route; an address that failed is passed over for a while, then used again")
    func balancerRotation() {
        let (a, b, c) = (Self.address(1), Self.address(2), Self.address(3))
        let balancer = UpstreamBalancer(addresses: [a, b, c])
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        #expect((0..<6).map { _ in balancer.next(now: start) } == [a, b, c, a, b, c])
        balancer.markFailed(b, now: start)
        #expect((0..<4).map { _ in balancer.next(now: start) } == [a, c, a, c])
        #expect(balancer.next(excluding: [a, c], now: start) == b, "a resting address is better than none")
        #expect(balancer.next(excluding: [a, b, c], now: start) == nil)
        let later = start + UpstreamBalancer.failTimeout + .milliseconds(1)
        #expect(Set((0..<3).map { _ in balancer.next(now: later) }) == [a, b, c])
        let single = UpstreamBalancer(addresses: [a])
        single.markFailed(a, now: start)
        #expect(single.next(now: start) == a, "a lone upstream is never passed over")
        #expect(single.next(excluding: [a], now: start) == nil)
    }

    @Test("each route keeps its own rotation, even when requests to other routes come between")
    func rotationPerRoute() async throws {
        let first = try await RecordingUpstream.start(responseBody: "first")
        let second = try await RecordingUpstream.start(responseBody: "second")
        let api = try await RecordingUpstream.start(responseBody: "api")
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            var site = SiteSettings(name: "a", hosts: ["*"], routes: [
                RouteSettings(path: "/", upstreams: ["127.0.0.1:\(first.port)", "127.0.0.1:\(second.port)"]),
                RouteSettings(path: "/api/", upstreams: ["127.0.0.1:\(api.port)"]),
            ])
            site.redirectToHTTPS = false
            edge.sites = [site]
        }
        var bodies: [String] = []
        for index in 0..<6 {
            bodies.append(try await TestHTTPClient.request(port: edge.httpPort, path: "/page\(index)").body)
            _ = try await TestHTTPClient.request(port: edge.httpPort, path: "/api/x")
        }
        await edge.stop()
        for upstream in [first, second, api] { await upstream.stop() }
        #expect(zip(bodies, bodies.dropFirst()).allSatisfy { $0 != $1 }, "\(bodies)")
        #expect(first.requests.count == 3)
        #expect(second.requests.count == 3)
        #expect(api.requests.count == 6)
    }

    @Test("a refused connection goes on to the route's next upstream instead of answering 502")
    func failover() async throws {
        let upstream = try await RecordingUpstream.start(responseBody: "alive")
        let refusing = try RefusingPort()
        defer { withExtendedLifetime(refusing) {} }
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            var site = SiteSettings(name: "a", hosts: ["*"], routes: [
                RouteSettings(path: "/", upstreams: ["127.0.0.1:\(refusing.port)", "127.0.0.1:\(upstream.port)"])])
            site.redirectToHTTPS = false
            edge.sites = [site]
        }
        var statuses: [Int] = []
        for index in 0..<6 {
            statuses.append(try await TestHTTPClient.request(port: edge.httpPort, method: .POST, path: "/form\(index)",
                                                             body: "campo=\(index)").status)
        }
        await edge.stop()
        await upstream.stop()
        #expect(statuses == Array(repeating: 200, count: 6))
        #expect(upstream.requests.map(\.body) == (0..<6).map { "campo=\($0)" })
    }
}
