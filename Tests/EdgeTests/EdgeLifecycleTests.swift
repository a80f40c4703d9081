import Edge
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import PortalCore
import PortalTestSupport
import ServiceLifecycle
import Testing

@Suite("Edge: reload, logs", .serialized)
struct EdgeLifecycleTests {
    /// Which upstream the next reload routes to, and whether it should fail.
    final class ReloadPlan: Sendable {
        let state = NIOLockedValueBox((port: 0, broken: false, extraHTTPPort: Int?.none))
    }

    static func configuration(_ plan: ReloadPlan, directory: TemporaryDirectory, httpPort: Int, httpsPort: Int)
        throws -> PortalConfiguration {
        let (port, broken, extra) = plan.state.withLockedValue { $0 }
        var configuration = PortalConfiguration(dataDirectory: directory.path)
        configuration.edge.listen = ["127.0.0.1"]
        configuration.edge.httpPort = httpPort
        configuration.edge.httpsPort = httpsPort
        if let extra {
            configuration.edge.httpListeners = ["127.0.0.1:\(extra)"]
        }
        var site = SiteSettings(name: "plain", hosts: ["*"], routes: [RouteSettings(path: "/", upstreams: ["127.0.0.1:\(port)"])])
        site.redirectToHTTPS = false
        if broken {
            site.certificateFile = directory.file("missing.pem")
            site.keyFile = directory.file("missing-key.pem")
        }
        configuration.edge.sites = [site]
        configuration.edge.drainTimeoutSeconds = 2
        return configuration
    }

    /// Two upstreams and an edge whose reloads read `plan`, starting on the first upstream.
    static func reloadableEdge() async throws -> (RecordingUpstream, RecordingUpstream, ReloadPlan, EdgeFixture) {
        let first = try await RecordingUpstream.start(responseBody: "first")
        let second = try await RecordingUpstream.start(responseBody: "second")
        let plan = ReloadPlan()
        plan.state.withLockedValue { $0.port = first.port }
        let edge = try await EdgeFixture.start(upstreams: [], configure: { edge in
            var site = SiteSettings(name: "plain", hosts: ["*"], routes: [
                RouteSettings(path: "/", upstreams: ["127.0.0.1:\(first.port)"])])
            site.redirectToHTTPS = false
            edge.sites = [site]
        }, reloader: { directory, http, https in
            try Self.configuration(plan, directory: directory, httpPort: http, httpsPort: https)
        })
        return (first, second, plan, edge)
    }

    @Test("a reload switches new requests to the new routes; a broken configuration is refused")
    func reload() async throws {
        let (first, second, plan, edge) = try await Self.reloadableEdge()
        let before = try await TestHTTPClient.request(port: edge.httpPort, path: "/")
        plan.state.withLockedValue { $0.port = second.port }
        await edge.server.reload()
        let after = try await TestHTTPClient.request(port: edge.httpPort, path: "/")
        plan.state.withLockedValue { $0.broken = true }
        await edge.server.reload()
        let afterBroken = try await TestHTTPClient.request(port: edge.httpPort, path: "/")

        let extraPort = try FreePort.allocate()
        plan.state.withLockedValue { $0.broken = false; $0.extraHTTPPort = extraPort }
        await edge.server.reload()
        let onNewListener = try await TestHTTPClient.request(port: extraPort, path: "/")
        let listeners = edge.server.listeners.map(\.port)

        await edge.stop()
        await first.stop()
        await second.stop()
        #expect(before.body == "first")
        #expect(after.body == "second")
        #expect(afterBroken.body == "second")
        #expect(onNewListener.status == 200)
        #expect(listeners.contains(extraPort))
        #expect(!listeners.contains(edge.httpPort))
    }

    @Test("a reload applies new upstream pool limits to the next requests")
    func reloadPoolLimits() async throws {
        let slow = try await RecordingUpstream.start(delay: .milliseconds(2500))
        let limit = NIOLockedValueBox(1)
        @Sendable func configuration(_ directory: TemporaryDirectory, _ http: Int, _ https: Int) -> PortalConfiguration {
            var configuration = PortalConfiguration(dataDirectory: directory.path)
            configuration.edge.listen = ["127.0.0.1"]
            configuration.edge.httpPort = http
            configuration.edge.httpsPort = https
            configuration.edge.workers = 1
            configuration.edge.upstreamMaxConnections = limit.withLockedValue { $0 }
            configuration.edge.poolAcquireTimeoutSeconds = 1
            var site = SiteSettings(name: "plain", hosts: ["*"], routes: [RouteSettings(path: "/", upstreams: ["127.0.0.1:\(slow.port)"])])
            site.redirectToHTTPS = false
            configuration.edge.sites = [site]
            configuration.edge.drainTimeoutSeconds = 2
            return configuration
        }
        let edge = try await EdgeFixture.start(upstreams: [], configure: EdgeFixture.plainSite(proxyingTo: slow.port) { edge in
            edge.workers = 1
            edge.upstreamMaxConnections = 1
            edge.poolAcquireTimeoutSeconds = 1
        }, reloader: { directory, http, https in configuration(directory, http, https) })
        func twoAtOnce() async throws -> [Int] {
            async let first = TestHTTPClient.request(port: edge.httpPort, path: "/a")
            async let second = TestHTTPClient.request(port: edge.httpPort, path: "/b")
            return try await [first.status, second.status].sorted()
        }
        let limited = try await twoAtOnce()
        limit.withLockedValue { $0 = 0 }
        await edge.server.reload()
        let unlimited = try await twoAtOnce()
        await edge.stop()
        await slow.stop()
        // One connection at a time: the second request waited a second for it, then got 503.
        #expect(limited == [200, 503])
        #expect(unlimited == [200, 200])
    }

    @Test("no request fails while the configuration is reloaded repeatedly under load")
    func reloadUnderLoad() async throws {
        let (first, second, plan, edge) = try await Self.reloadableEdge()
        let port = edge.httpPort
        let done = NIOLockedValueBox(false)
        let sent = NIOLockedValueBox(0)
        let failures = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var failed = 0
                    // Requests keep going until the reloads are over (bounded, in case they never end).
                    for _ in 0..<2_000 where !done.withLockedValue({ $0 }) {
                        let response = try? await TestHTTPClient.request(port: port, path: "/")
                        if response?.status != 200 { failed += 1 }
                        sent.withLockedValue { $0 += 1 }
                    }
                    return failed
                }
            }
            for round in 0..<10 {
                // Each configuration serves a few requests started after it took over (every
                // worker finishes at least two), however slow a loaded machine is (bounded).
                let before = sent.withLockedValue { $0 }
                for _ in 0..<200 where sent.withLockedValue({ $0 }) < before + 8 {
                    try await Task.sleep(for: .milliseconds(10))
                }
                plan.state.withLockedValue { $0.port = round % 2 == 0 ? second.port : first.port }
                await edge.server.reload()
            }
            let last = sent.withLockedValue { $0 }
            for _ in 0..<200 where sent.withLockedValue({ $0 }) < last + 8 {
                try await Task.sleep(for: .milliseconds(10))
            }
            done.withLockedValue { $0 = true }
            return try await group.reduce(0, +)
        }
        await edge.stop()
        await first.stop()
        await second.stop()
        #expect(failures == 0)
        #expect(first.requests.count + second.requests.count == sent.withLockedValue { $0 })
        #expect(edge.reloads.withLockedValue { $0 }.compactMap { $0 }.isEmpty, "\(edge.reloads.withLockedValue { $0 })")
        #expect(!second.requests.isEmpty)
    }

    @Test("the JSON access log carries site, upstream and timings; logs reopen and rotate")
    func jsonAccessLog() async throws {
        let upstream = try await RecordingUpstream.start()
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: upstream.port)]) { edge in
            edge.accessLogFormat = "json"
            edge.logRotateBytes = 600
        }
        for index in 0..<6 {
            _ = try await TestHTTPClient.request(port: edge.httpsPort, path: "/json/\(index)", tls: edge.tls)
            edge.server.reopenLogs()
        }
        let logs = DataDirectory(edge.directory.path).logsDirectory
        let directory = edge.directory
        await edge.group.triggerGracefulShutdown()
        _ = try? await edge.task.value
        let files = try FileManager.default.contentsOfDirectory(atPath: logs).filter { $0.hasPrefix("access.log") }
        var lines: [String] = []
        for file in files {
            lines += try String(contentsOfFile: logs + "/" + file, encoding: .utf8).split(separator: "\n").map(String.init)
        }
        directory.remove()
        await upstream.stop()
        #expect(files.count > 1, "rotated by size: \(files)")
        #expect(lines.count == 6)
        let line = try #require(lines.first { $0.contains("/json/0") })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["status"] as? Int == 200)
        #expect(object["site"] as? String == "default")
        #expect(object["upstream"] as? String == "127.0.0.1:\(upstream.port)")
        #expect(object["upstream_ms"] is Double)
        #expect(object["total_ms"] is Double)
        #expect(object["method"] as? String == "GET")
        // Not a caching route: the cache field is there, and null.
        #expect(object["cache"] is NSNull)
    }

    @Test("upstream_ms runs to the end of the upstream's answer; upstream_header_ms to its head")
    func upstreamTimings() async throws {
        let upstream = try await ScriptedUpstream.start(.events(["data: um\n\n", "data: dois\n\n"], gap: .seconds(1)))
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: upstream.port)]) { edge in
            edge.accessLogFormat = "json"
        }
        let response = try await TestHTTPClient.request(port: edge.httpsPort, path: "/events", tls: edge.tls)
        let log = DataDirectory(edge.directory.path).accessLogFile
        let directory = edge.directory
        await edge.group.triggerGracefulShutdown()
        _ = try? await edge.task.value
        let line = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").first.map(String.init) ?? ""
        directory.remove()
        await upstream.stop()
        #expect(response.body.contains("dois"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
        let whole = try #require(object["upstream_ms"] as? Double, "\(line)")
        let head = try #require(object["upstream_header_ms"] as? Double, "\(line)")
        // The head comes before the first event and the end after the second, a second later.
        #expect(whole - head >= 1000, "\(line)")
        #expect(try #require(object["total_ms"] as? Double) >= whole)
    }
}
