import ArgumentParser
import Edge
import Foundation
import Logging
import PortalCore
import ServiceLifecycle
import UnixSignals

/// `portal edge`: the HTTPS edge alone (the Apache role).
struct EdgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edge", abstract: "Run the edge: HTTPS reverse proxy, and HTTP redirect to HTTPS.")

    @OptionGroup var options: ConfigurationOptions

    @Option(help: ArgumentHelp("Plain HTTP port (redirects to HTTPS).", valueName: "port"))
    var httpPort: Int?

    @Option(help: ArgumentHelp("HTTPS port.", valueName: "port"))
    var httpsPort: Int?

    @Option(help: ArgumentHelp("Upstream address host:port (repeatable); the app's address by default.",
                               valueName: "host:port"))
    var upstream: [String] = []

    func validate() throws {
        try validatePort(httpPort, flag: "--http-port")
        try validatePort(httpsPort, flag: "--https-port")
        for value in upstream where HostAndPort(value) == nil {
            throw ValidationError("--upstream must be host:port, e.g. 127.0.0.1:9000; got '\(value)'")
        }
    }

    func run() async throws {
        SupervisedChild.attachToSupervisor()
        var configuration = try options.load()
        if let httpPort { configuration.edge.httpPort = httpPort }
        if let httpsPort { configuration.edge.httpsPort = httpsPort }
        if !upstream.isEmpty { configuration.edge.upstreams = upstream }
        LoggingSetup.bootstrap(level: configuration.log.level)
        let logger = Logger(label: "portal.edge")
        let edgeOptions: EdgeOptions
        do {
            try DataDirectory(configuration.dataDirectory).prepare()
            edgeOptions = try EdgeOptions.resolve(configuration)
        } catch {
            printError("portal edge: \(error)")
            throw ExitCode(SupervisedChild.startupFailureStatus)
        }
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: EdgeServer(options: edgeOptions, logger: logger))],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch let error as EdgeStartupError {
            printError("portal edge: \(error)")
            throw ExitCode(SupervisedChild.startupFailureStatus)
        }
    }
}
