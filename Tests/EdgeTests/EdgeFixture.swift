import Edge
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PortalCore
import PortalTestSupport
import ServiceLifecycle

/// A running edge on free ports with a fresh development certificate, for one test.
struct EdgeFixture {
    let directory: TemporaryDirectory
    let httpPort: Int
    let httpsPort: Int
    let certificateFile: String
    let server: EdgeServer
    let task: Task<Void, any Error>
    let group: ServiceGroup
    /// Outcome of every reload: nil for success, else the reason.
    let reloads: NIOLockedValueBox<[String?]>

    var tls: TestTLS { TestTLS(trustedCertificateFile: certificateFile) }

    /// One site for every host, served over plain HTTP too (no redirect to HTTPS), with `routes`.
    static func plainSite(_ routes: [RouteSettings], configure: @escaping (inout EdgeSettings) -> Void = { _ in })
        -> (inout EdgeSettings) -> Void {
        { edge in
            var site = SiteSettings(name: "plain", hosts: ["*"], routes: routes)
            site.redirectToHTTPS = false
            edge.sites = [site]
            configure(&edge)
        }
    }

    /// `plainSite` with one route, `/`, to the upstream on `port` of 127.0.0.1.
    static func plainSite(proxyingTo port: Int, configure: @escaping (inout EdgeSettings) -> Void = { _ in })
        -> (inout EdgeSettings) -> Void {
        plainSite([RouteSettings(path: "/", upstreams: ["127.0.0.1:\(port)"])], configure: configure)
    }

    /// Starts an edge; `configure` may change anything, `upstreams` feed the implicit site.
    static func start(upstreams: [HostAndPort], configure: (inout EdgeSettings) -> Void = { _ in },
                      reloader: (@Sendable (TemporaryDirectory, Int, Int) throws -> PortalConfiguration)? = nil,
                      logger customLogger: Logger? = nil)
        async throws -> EdgeFixture {
        let directory = try TemporaryDirectory(prefix: "portal-edge")
        let data = DataDirectory(directory.path)
        try data.prepare()
        let certificate = DevelopmentCertificate(directory: data.tlsDirectory)
        try certificate.generate()
        let ports = try FreePort.allocate(count: 2)
        var configuration = PortalConfiguration(dataDirectory: directory.path)
        configuration.edge.listen = ["127.0.0.1"]
        configuration.edge.httpPort = ports[0]
        configuration.edge.httpsPort = ports[1]
        configuration.edge.upstreams = upstreams.map(\.description)
        configuration.edge.drainTimeoutSeconds = 2
        configure(&configuration.edge)
        let runtime = try EdgeRuntime.resolve(configuration)
        var logger = customLogger ?? Logger(label: "test.edge")
        if customLogger == nil { logger.logLevel = .critical }
        var reload: (@Sendable () throws -> EdgeRuntime)?
        if let reloader {
            let httpPort = ports[0]
            let httpsPort = ports[1]
            reload = { try EdgeRuntime.resolve(try reloader(directory, httpPort, httpsPort)) }
        }
        let reloads = NIOLockedValueBox<[String?]>([])
        let server = EdgeServer(runtime: runtime, logger: logger, reloader: reload,
                                onReload: { error in reloads.withLockedValue { $0.append(error) } })
        let group = ServiceGroup(configuration: .init(services: [.init(service: server)], logger: logger))
        let task = Task { try await group.run() }
        for _ in 0..<500 {
            if server.listeners.count == runtime.listeners.count { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        // An edge that could not bind (a port taken between allocation and bind) must fail the
        // test here, not leave clients talking to whatever holds the port.
        guard server.listeners.count == runtime.listeners.count else {
            await group.triggerGracefulShutdown()
            let outcome = await task.result
            directory.remove()
            throw EdgeFixtureError(description: "the edge did not bind ports \(ports): \(outcome)")
        }
        return EdgeFixture(directory: directory, httpPort: ports[0], httpsPort: ports[1],
                           certificateFile: certificate.certificateFile, server: server, task: task, group: group,
                           reloads: reloads)
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        directory.remove()
    }
}

struct EdgeFixtureError: Error, CustomStringConvertible {
    let description: String
}
