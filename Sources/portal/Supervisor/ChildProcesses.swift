import Foundation
import Logging

/// The running children of `portal up`, each a `portal app` or `portal edge` process started
/// from this same executable. Exits are reported as events; signals go to the process by PID.
actor ChildProcesses {
    private struct Running {
        let process: Process
        let generation: Int
        let startedAt: Double
    }

    private let executable: URL
    private let argumentsFor: @Sendable (ChildRole) -> [String]
    private let events: AsyncStream<SupervisorEvent>.Continuation
    private let logger: Logger
    private var running: [ChildRole: Running] = [:]
    private var generation = 0

    init(executable: URL, arguments: @escaping @Sendable (ChildRole) -> [String],
         events: AsyncStream<SupervisorEvent>.Continuation, logger: Logger) {
        self.executable = executable
        self.argumentsFor = arguments
        self.events = events
        self.logger = logger
    }

    /// Starts `role`; the child learns the supervisor's PID so it dies with it.
    func start(_ role: ChildRole) throws {
        generation += 1
        let generation = self.generation
        let process = Process()
        process.executableURL = executable
        process.arguments = argumentsFor(role)
        var environment = ProcessInfo.processInfo.environment
        environment[SupervisedChild.supervisorVariable] = String(getpid())
        process.environment = environment
        let events = self.events
        process.terminationHandler = { finished in
            events.yield(.exited(role, status: finished.terminationStatus, generation: generation))
        }
        try process.run()
        running[role] = Running(process: process, generation: generation, startedAt: Self.now())
        logger.info("started \(role.rawValue)", metadata: ["pid": "\(process.processIdentifier)"])
    }

    /// Forgets a child that exited; returns when it had been started, or nil for a stale event.
    func exited(_ role: ChildRole, generation: Int) -> Double? {
        guard let child = running[role], child.generation == generation else { return nil }
        running[role] = nil
        return child.startedAt
    }

    func signalAll(_ signal: Int32) {
        for child in running.values where child.process.isRunning {
            kill(child.process.processIdentifier, signal)
        }
    }

    func signal(_ role: ChildRole, _ signal: Int32) {
        if let child = running[role], child.process.isRunning {
            kill(child.process.processIdentifier, signal)
        }
    }

    var isEmpty: Bool { running.isEmpty }

    func pid(of role: ChildRole) -> Int32? {
        running[role]?.process.processIdentifier
    }

    static func now() -> Double {
        Date().timeIntervalSince1970
    }

    /// This executable, to start the children from.
    static func currentExecutable() -> URL {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return URL(fileURLWithPath: path)
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
    }
}
