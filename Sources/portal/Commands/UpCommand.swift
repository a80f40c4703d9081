import ArgumentParser
import Edge
import Foundation
import Logging
import PortalCore
import PortalData
import UnixSignals

/// `portal up`: prepares the data folder and starts and supervises the app and the edge.
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Start the whole portal: the app on 127.0.0.1:9000 behind the edge on 8080 (HTTP) and 8443 (HTTPS).")

    @OptionGroup var options: ConfigurationOptions

    @Option(help: ArgumentHelp("Plain HTTP port of the edge (redirects to HTTPS).", valueName: "port"))
    var httpPort: Int?

    @Option(help: ArgumentHelp("HTTPS port of the edge.", valueName: "port"))
    var httpsPort: Int?

    @Option(help: ArgumentHelp("Port of the app on 127.0.0.1.", valueName: "port"))
    var appPort: Int?

    func validate() throws {
        try validatePort(httpPort, flag: "--http-port")
        try validatePort(httpsPort, flag: "--https-port")
        try validatePort(appPort, flag: "--app-port")
    }

    func run() async throws {
        var configuration = try options.load()
        if let httpPort { configuration.edge.httpPort = httpPort }
        if let httpsPort { configuration.edge.httpsPort = httpsPort }
        if let appPort { configuration.app.port = appPort }
        try checkDistinctPorts(configuration)
        LoggingSetup.bootstrap(level: configuration.log.level)
        let logger = Logger(label: "portal.up")

        let firstStart = try await prepare(configuration, logger: logger)
        try checkPortsFree(configuration)
        try await supervise(configuration, firstStart: firstStart, logger: logger)
    }

    private func checkDistinctPorts(_ configuration: PortalConfiguration) throws {
        let ports = [configuration.edge.httpPort, configuration.edge.httpsPort, configuration.app.port]
        if Set(ports).count != ports.count {
            throw CommandFailure("the HTTP, HTTPS and app ports must differ, got \(ports.map(String.init).joined(separator: ", "))")
        }
    }

    /// Data folder, secrets, certificate, database: everything the children expect to find.
    private func prepare(_ configuration: PortalConfiguration, logger: Logger) async throws
        -> (email: String, password: String)? {
        let dataDirectory = try prepareDataDirectory(configuration)
        if configuration.edge.certificateFile == nil {
            let certificate = DevelopmentCertificate(directory: dataDirectory.tlsDirectory)
            do {
                switch try certificate.ensure() {
                case .created(let expires):
                    logger.info("created a development certificate", metadata: [
                        "file": "\(certificate.certificateFile)", "expires": "\(expires)"])
                case .renewed(let expires):
                    logger.info("renewed the development certificate", metadata: [
                        "file": "\(certificate.certificateFile)", "expires": "\(expires)"])
                case .kept:
                    break
                }
            } catch {
                throw CommandFailure("cannot create the development certificate in \(dataDirectory.tlsDirectory): \(error)")
            }
        }
        do {
            // The same checks the edge makes at start, so a bad certificate is reported here, once.
            _ = try EdgeRuntime.resolve(configuration, checkOnly: true)
        } catch {
            throw CommandFailure("\(error)")
        }
        let database: PortalDatabase
        do {
            database = try PortalDatabase.open(configuration, logger: logger)
        } catch {
            throw CommandFailure("cannot open the database: \(error)")
        }
        do {
            try await database.migrate()
            let credentials = try await AccountStore(database: try database.database())
                .bootstrapAdministratorIfNeeded()
            await database.shutdown()
            return credentials
        } catch {
            await database.shutdown()
            throw CommandFailure("cannot prepare the database at \(database.location): \(error)")
        }
    }

    private func checkPortsFree(_ configuration: PortalConfiguration) throws {
        var checks: [(address: String, port: Int, role: String, flag: String)] = [
            (configuration.app.host, configuration.app.port, "the app", "--app-port"),
        ]
        for address in configuration.edge.listen {
            checks.append((address, configuration.edge.httpsPort, "HTTPS (edge)", "--https-port"))
            checks.append((address, configuration.edge.httpPort, "HTTP (edge)", "--http-port"))
        }
        for check in checks {
            let result = SocketProbe.canBind(address: check.address, port: check.port)
            if result.free { continue }
            switch result.errno {
            case EADDRINUSE:
                throw CommandFailure(PortInUseMessage.text(port: check.port, address: check.address,
                                                           role: check.role, flag: check.flag))
            case EACCES:
                throw CommandFailure("""
                    cannot listen on \(check.address):\(check.port) for \(check.role): permission denied \
                    (ports below 1024 need privileges); choose another port with \(check.flag)
                    """)
            default:
                throw CommandFailure("cannot listen on \(check.address):\(check.port) for \(check.role): "
                                     + String(cString: strerror(result.errno)))
            }
        }
    }

    private func childArguments(_ role: ChildRole, _ configuration: PortalConfiguration) -> [String] {
        let common = options.arguments
        switch role {
        case .app:
            return ["app"] + common + ["--port", String(configuration.app.port)]
        case .edge:
            var arguments = ["edge"] + common + [
                "--http-port", String(configuration.edge.httpPort),
                "--https-port", String(configuration.edge.httpsPort),
            ]
            if configuration.edge.upstreams.isEmpty && configuration.edge.sites.isEmpty {
                let upstream = HostAndPort(host: SocketProbe.connectAddress(for: configuration.app.host),
                                           port: configuration.app.port)
                arguments += ["--upstream", upstream.description]
            }
            return arguments
        }
    }

    private func supervise(_ configuration: PortalConfiguration, firstStart: (email: String, password: String)?,
                           logger: Logger) async throws {
        let (events, continuation) = AsyncStream.makeStream(of: SupervisorEvent.self)
        let arguments: @Sendable (ChildRole) -> [String] = { [self] role in childArguments(role, configuration) }
        let children = ChildProcesses(executable: ChildProcesses.currentExecutable(), arguments: arguments,
                                      events: continuation, logger: logger)
        let appProbe = (SocketProbe.connectAddress(for: configuration.app.host), configuration.app.port)
        let edgeProbe = (SocketProbe.connectAddress(for: configuration.edge.listen.first ?? "127.0.0.1"),
                         configuration.edge.httpsPort)

        var exitError: (any Error)?
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await signal in await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup) {
                    if signal == .sighup {
                        continuation.yield(.reload)
                    } else {
                        continuation.yield(.stop(signal: "\(signal)"))
                    }
                }
            }
            group.addTask {
                let deadline = Date().addingTimeInterval(60)
                while Date() < deadline, !Task.isCancelled {
                    if SocketProbe.accepts(address: appProbe.0, port: appProbe.1),
                       SocketProbe.accepts(address: edgeProbe.0, port: edgeProbe.1) {
                        continuation.yield(.ready)
                        return
                    }
                    try? await Task.sleep(for: .milliseconds(100))
                }
                if !Task.isCancelled { continuation.yield(.startupTimedOut) }
            }
            do {
                try await children.start(.app)
                try await children.start(.edge)
            } catch {
                exitError = CommandFailure("cannot start a child process: \(error)")
                continuation.yield(.stop(signal: "startup failure"))
            }

            var ready = false
            var stopping = false
            var backoff: [ChildRole: RestartBackoff] = [:]
            for await event in events {
                switch event {
                case .ready:
                    ready = true
                    printBanner(configuration, firstStart: firstStart)
                case .startupTimedOut:
                    if !ready && !stopping {
                        exitError = CommandFailure("the app or the edge did not start listening within 60 seconds")
                        stopping = true
                        await children.signalAll(SIGTERM)
                        scheduleForceKill(group: &group, continuation: continuation)
                    }
                case .exited(let role, let status, let generation):
                    guard let startedAt = await children.exited(role, generation: generation) else { break }
                    if stopping {
                        logger.info("\(role.rawValue) stopped", metadata: ["status": "\(status)"])
                    } else if !ready {
                        exitError = CommandFailure("the \(role.rawValue) process could not start (exit status \(status)); see the message above")
                        stopping = true
                        await children.signalAll(SIGTERM)
                        scheduleForceKill(group: &group, continuation: continuation)
                    } else {
                        let delay = backoff[role, default: RestartBackoff()]
                            .delayAfterExit(startedAt: startedAt, now: ChildProcesses.now())
                        logger.error("\(role.rawValue) exited unexpectedly; restarting", metadata: [
                            "status": "\(status)", "restart_in_seconds": "\(delay)"])
                        group.addTask {
                            try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                            continuation.yield(.restartDue(role))
                        }
                    }
                    if stopping, await children.isEmpty {
                        continuation.finish()
                    }
                case .restartDue(let role):
                    guard !stopping else { break }
                    do {
                        try await children.start(role)
                    } catch {
                        logger.error("cannot restart \(role.rawValue)", metadata: ["error": "\(error)"])
                        group.addTask {
                            try? await Task.sleep(for: .seconds(5))
                            continuation.yield(.restartDue(role))
                        }
                    }
                case .stop(let signal):
                    if stopping { break }
                    stopping = true
                    logger.info("stopping", metadata: ["reason": "\(signal)"])
                    await children.signalAll(SIGTERM)
                    if await children.isEmpty {
                        continuation.finish()
                    } else {
                        scheduleForceKill(group: &group, continuation: continuation)
                    }
                case .reload:
                    logger.info("reloading the edge's configuration")
                    await children.signal(.edge, SIGHUP)
                case .forceKill:
                    logger.warning("children did not stop within 20 seconds; killing them")
                    await children.signalAll(SIGKILL)
                }
            }
            group.cancelAll()
        }
        if let exitError { throw exitError }
    }

    private func scheduleForceKill(group: inout DiscardingTaskGroup,
                                   continuation: AsyncStream<SupervisorEvent>.Continuation) {
        group.addTask {
            try? await Task.sleep(for: .seconds(20))
            continuation.yield(.forceKill)
        }
    }

    private func printBanner(_ configuration: PortalConfiguration, firstStart: (email: String, password: String)?) {
        let port = configuration.edge.httpsPort
        let url = port == 443 ? "https://localhost/" : "https://localhost:\(port)/"
        var lines = [
            "",
            "Portal \(PortalVersion.current) is running.",
            "  Open \(url)",
        ]
        if configuration.edge.certificateFile == nil {
            lines.append("  (development certificate: \(DevelopmentCertificate(directory: DataDirectory(configuration.dataDirectory).tlsDirectory).certificateFile))")
        }
        if let firstStart {
            lines += [
                "",
                "  First start: an administrator account was created.",
                "    E-mail:   \(firstStart.email)",
                "    Password: \(firstStart.password)",
                "  This password is shown only once. Sign in and change it.",
            ]
        }
        lines.append("")
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}
