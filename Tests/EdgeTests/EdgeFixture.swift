import Edge
import Foundation
import Logging
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
    let task: Task<Void, any Error>
    let group: ServiceGroup

    var tls: TestTLS { TestTLS(trustedCertificateFile: certificateFile) }

    static func start(upstreams: [HostAndPort], configure: (inout EdgeSettings) -> Void = { _ in }) async throws
        -> EdgeFixture {
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
        configure(&configuration.edge)
        let options = try EdgeOptions.resolve(configuration)
        var logger = Logger(label: "test.edge")
        logger.logLevel = .critical
        let server = EdgeServer(options: options, logger: logger, drainTimeout: .seconds(2))
        let group = ServiceGroup(configuration: .init(services: [.init(service: server)], logger: logger))
        let task = Task { try await group.run() }
        // Wait until the HTTPS port accepts connections.
        for _ in 0..<100 {
            if (try? await TestHTTPClient.request(port: ports[0], path: "/")) != nil { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        return EdgeFixture(directory: directory, httpPort: ports[0], httpsPort: ports[1],
                           certificateFile: certificate.certificateFile, task: task, group: group)
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        directory.remove()
    }
}
