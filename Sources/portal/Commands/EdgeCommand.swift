import ArgumentParser
import Edge
import Foundation
import Logging
import PortalCore
import ServiceLifecycle
import UnixSignals

/// `portal edge`: the HTTPS edge alone (the Apache role), and `portal edge reload`.
struct EdgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edge",
        abstract: "Run the edge (HTTPS reverse proxy), or reload the running one.",
        subcommands: [EdgeRunCommand.self, EdgeReloadCommand.self],
        defaultSubcommand: EdgeRunCommand.self)
}

/// `portal edge [run]`: serves until SIGTERM; SIGHUP reloads, SIGUSR1 reopens logs.
struct EdgeRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the edge: HTTPS reverse proxy, and HTTP redirect to HTTPS.")

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

    /// The configuration with this command's flags applied (also on every reload).
    func configuration() throws -> PortalConfiguration {
        var configuration = try options.load()
        if let httpPort { configuration.edge.httpPort = httpPort }
        if let httpsPort { configuration.edge.httpsPort = httpsPort }
        if !upstream.isEmpty { configuration.edge.upstreams = upstream }
        return configuration
    }

    func run() async throws {
        SupervisedChild.attachToSupervisor()
        let configuration = try configuration()
        let dataDirectory = DataDirectory(configuration.dataDirectory)
        let edgeSettings = configuration.edge
        var errorLog: ErrorLogFile?
        do {
            try dataDirectory.prepare()
            errorLog = try ErrorLogFile(path: edgeSettings.errorLog ?? ErrorLogFile.defaultPath(dataDirectory: dataDirectory),
                                        settings: EdgeSettingsRotation(edgeSettings))
        } catch {
            printError("portal edge: \(error)")
            throw ExitCode(SupervisedChild.startupFailureStatus)
        }
        LoggingSetup.bootstrap(level: configuration.log.level, errorLog: errorLog)
        let logger = Logger(label: "portal.edge")
        let statusFile = EdgeControlFiles(dataDirectory: dataDirectory)
        if let other = statusFile.runningPID(), other != getpid() {
            // Two edges on one data folder would share its PID file, and reloads would reach one.
            printError("portal edge: another edge (pid \(other)) already runs with the data folder "
                + "\(dataDirectory.path); stop it first, or give this one its own data_dir")
            throw ExitCode(SupervisedChild.startupFailureStatus)
        }
        let runtime: EdgeRuntime
        do {
            try dataDirectory.prepare()
            runtime = try EdgeRuntime.resolve(configuration)
        } catch {
            printError("portal edge: \(error)")
            throw ExitCode(SupervisedChild.startupFailureStatus)
        }
        let command = self
        let server = EdgeServer(
            runtime: runtime, logger: logger,
            reloader: { try EdgeRuntime.resolve(try command.configuration()) },
            onReload: { error in statusFile.writeReloadOutcome(error) },
            errorLog: errorLog)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: server)],
            gracefulShutdownSignals: [.sigterm, .sigint, .sigquit],  // SIGQUIT: nginx's graceful stop
            logger: logger))
        statusFile.writePID(configurationFile: options.config.map(EdgeControlFiles.absolutePath))
        defer { statusFile.removePID() }
        do {
            try await group.run()
        } catch let error as EdgeStartupError {
            printError("portal edge: \(error)")
            throw ExitCode(SupervisedChild.startupFailureStatus)
        }
    }
}

/// `portal edge reload`: asks the running edge to load the configuration again (SIGHUP) and
/// reports whether it did.
struct EdgeReloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Reload the running edge's configuration without dropping connections (like apachectl graceful).")

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        let configuration = try options.load()
        let files = EdgeControlFiles(dataDirectory: DataDirectory(configuration.dataDirectory))
        guard let pid = files.runningPID() else {
            throw CommandFailure("no running edge found for data directory \(configuration.dataDirectory) (no live \(files.pidFile))")
        }
        // A reload re-reads the file the edge was started with; another file would be ignored.
        let running = files.runningConfigurationFile()
        if let given = options.config.map(EdgeControlFiles.absolutePath),
           given != running, EdgeControlFiles.resolvingLinks(given) != running.map(EdgeControlFiles.resolvingLinks) {
            throw CommandFailure("""
                the running edge (pid \(pid)) reads \(running ?? "no configuration file (defaults and environment)"), \
                not \(given); a reload re-reads the edge's own file. Put the changes in that file and reload \
                again, or restart the edge with --config \(given)
                """)
        }
        let before = files.reloadOutcome()
        guard kill(pid, SIGHUP) == 0 else {
            throw CommandFailure("cannot signal the edge (pid \(pid)): \(String(cString: strerror(errno)))")
        }
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
            if let outcome = files.reloadOutcome(), outcome != before {
                if outcome.hasPrefix("ok") {
                    print("edge reloaded (pid \(pid)\(running.map { ", configuration \($0)" } ?? ""))")
                    return
                }
                let reason = outcome.dropFirst("error ".count).split(separator: "\n")
                    .filter { !$0.hasPrefix("# ") }.joined(separator: "\n")
                throw CommandFailure("the edge refused the new configuration and keeps the old one:\n\(reason)")
            }
        }
        throw CommandFailure("the edge (pid \(pid)) did not report within 30 seconds; see its log")
    }
}

/// Files the running edge keeps in the data folder: its PID, the configuration file it reads,
/// and the outcome of the last reload.
struct EdgeControlFiles: Sendable {
    let pidFile: String
    let reloadFile: String
    let configurationFile: String

    init(dataDirectory: DataDirectory) {
        pidFile = (dataDirectory.path as NSString).appendingPathComponent("edge.pid")
        reloadFile = (dataDirectory.path as NSString).appendingPathComponent("edge.reload")
        configurationFile = (dataDirectory.path as NSString).appendingPathComponent("edge.config")
    }

    /// `path` made absolute (links kept, so a `current -> release` link switched later still names
    /// the file the edge re-reads).
    static func absolutePath(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// `path` with symbolic links resolved, so two spellings of one file compare equal.
    static func resolvingLinks(_ path: String) -> String {
        URL(fileURLWithPath: path).resolvingSymlinksInPath().path
    }

    /// Records this process as the running edge, and the configuration file it reads (nil: none).
    func writePID(configurationFile file: String?) {
        try? SecureFile.write((file ?? "") + "\n", to: configurationFile, mode: 0o644)
        try? SecureFile.write("\(getpid())\n", to: pidFile, mode: 0o644)
    }

    /// The configuration file the running edge reads; nil when it reads none.
    func runningConfigurationFile() -> String? {
        guard let text = try? String(contentsOfFile: configurationFile, encoding: .utf8) else { return nil }
        let path = text.trimmingCharacters(in: .newlines)
        return path.isEmpty ? nil : path
    }

    func removePID() {
        if runningPID() == getpid() {
            unlink(pidFile)
            unlink(configurationFile)
        }
    }

    /// The PID in the file, when that process is alive and is a portal edge.
    func runningPID() -> Int32? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, 0) == 0,
              let commandLine = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
              String(decoding: commandLine, as: UTF8.self).contains("edge")
        else { return nil }
        return pid
    }

    func writeReloadOutcome(_ error: String?) {
        let stamp = Date().timeIntervalSince1970
        let text = error.map { "error \($0)" } ?? "ok \(stamp)"
        try? SecureFile.write(error == nil ? text + "\n" : text + "\n# \(stamp)\n", to: reloadFile, mode: 0o644)
    }

    func reloadOutcome() -> String? {
        try? String(contentsOfFile: reloadFile, encoding: .utf8)
    }
}
