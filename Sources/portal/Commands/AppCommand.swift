import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore
import PortalApp
import PortalCore
import PortalData
import ServiceLifecycle
import UnixSignals

/// `portal app`: the web application alone (the Waitress + Flask roles), on 127.0.0.1:9000.
struct AppCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "app", abstract: "Run the web application (listens on 127.0.0.1:9000 by default).")

    @OptionGroup var options: ConfigurationOptions

    @Option(help: ArgumentHelp("Address to bind (loopback unless --allow-public-bind).", valueName: "ip"))
    var host: String?

    @Option(help: ArgumentHelp("Port to listen on.", valueName: "port"))
    var port: Int?

    @Flag(help: "Allow binding a non-loopback address (the app is then reachable without the edge).")
    var allowPublicBind = false

    func validate() throws {
        try validatePort(port, flag: "--port")
        if let host, IPAddress(host) == nil { throw ValidationError("--host must be an IP address, got '\(host)'") }
    }

    func run() async throws {
        SupervisedChild.attachToSupervisor()
        var configuration = try options.load()
        if let host { configuration.app.host = host }
        if let port { configuration.app.port = port }
        if allowPublicBind { configuration.app.allowPublicBind = true }
        LoggingSetup.bootstrap(level: configuration.log.level)
        let logger = Logger(label: "portal.app")
        do {
            try await serve(configuration, logger: logger)
        } catch let failure as CommandFailure {
            printError("portal app: \(failure)")
            throw ExitCode(SupervisedChild.startupFailureStatus)
        }
    }

    private func serve(_ configuration: PortalConfiguration, logger: Logger) async throws {
        let settings = configuration.app
        if let address = IPAddress(settings.host), !address.isLoopback {
            guard settings.allowPublicBind else {
                throw CommandFailure("""
                    refusing to bind \(settings.host): the app must only be reachable through the edge. \
                    Pass --allow-public-bind (or app.allow_public_bind: true) if you really mean it
                    """)
            }
            logger.warning("the app is bound to a non-loopback address and reachable without the edge",
                           metadata: ["host": "\(settings.host)"])
        }
        let dataDirectory = try prepareDataDirectory(configuration)
        // Held until the app stops: `portal restore` refuses to run under a running app.
        guard let lock = try DataDirectoryLock.acquire(dataDirectory, mode: .shared) else {
            throw CommandFailure("a restore is running on data directory \(dataDirectory.path); start the app once it has finished")
        }
        defer { withExtendedLifetime(lock) {} }
        let secret: Data, googleClientSecret: String?
        do {
            let secrets = SecretStore(dataDirectory: dataDirectory)
            secret = try secrets.secret("session")
            googleClientSecret = try secrets.provided("google_client")
        } catch {
            throw CommandFailure("\(error)")
        }
        if settings.google.isEnabled, googleClientSecret == nil {
            throw CommandFailure("""
                app.google.client_id is set but the client secret is missing: put it in PORTAL_SECRET_GOOGLE_CLIENT, \
                in a file named by PORTAL_SECRET_GOOGLE_CLIENT_FILE, or in \(dataDirectory.secretsDirectory)/google_client.key
                """)
        }
        let database: PortalDatabase
        do {
            database = try PortalDatabase.open(configuration, logger: logger)
            try await database.migrate()
        } catch {
            throw CommandFailure("cannot open the database: \(error)")
        }
        let services = AppServices(database: database, settings: settings, logger: logger, secret: secret,
                                   googleClientSecret: googleClientSecret)
        let application = try PortalApplication.application(services: services) { channel in
            logger.info("app listening", metadata: ["address": "\(channel.localAddress?.description ?? "?")"])
        }
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: DatabaseLifecycleService(database: database))]
                + (configuration.database.backupSchedule == "daily"
                    ? [.init(service: ScheduledBackupService(database: database, configuration: configuration, logger: logger))] : [])
                + [.init(service: application)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw CommandFailure(PortInUseMessage.text(port: settings.port, address: settings.host,
                                                       role: "the app", flag: "--app-port"))
        } catch let error as IOError where error.errnoCode == EADDRNOTAVAIL {
            throw CommandFailure("cannot listen on \(settings.host):\(settings.port): not an address of this machine")
        }
    }
}
