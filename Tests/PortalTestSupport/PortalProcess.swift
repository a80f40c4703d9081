public import Foundation

/// Runs the built `portal` executable as a user would, with its output captured to files.
public final class PortalProcess: @unchecked Sendable {
    // @unchecked: `process` is only touched by the test that owns this object, one call at a time.
    public let process: Process
    public let stdoutPath: String
    public let stderrPath: String

    /// The `portal` binary next to the test bundle (built by `swift build --build-tests`).
    public static func binary() throws -> URL {
        if let override = ProcessInfo.processInfo.environment["PORTAL_BINARY"] {
            return URL(fileURLWithPath: override)
        }
        let testBinary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var directory = URL(fileURLWithPath: testBinary).deletingLastPathComponent()
        // Inside an .xctest bundle on Darwin-style layouts the binary sits a few levels deeper.
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("portal")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        throw PortalProcessError.binaryNotFound(near: testBinary)
    }

    /// `input`, when given, is what the command reads on standard input (otherwise /dev/null).
    /// `launcher`, when given, runs the binary through another program (`setpriv … portal up`).
    public init(arguments: [String], outputDirectory: String, environment: [String: String] = [:],
                input: String? = nil, launcher: [String] = []) throws {
        process = Process()
        if let program = launcher.first {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = launcher.dropFirst() + [try Self.binary().path] + arguments
        } else {
            process.executableURL = try Self.binary()
            process.arguments = arguments
        }
        var merged = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PORTAL_") }
        for (key, value) in environment { merged[key] = value }
        process.environment = merged
        let stamp = UUID().uuidString.prefix(8)
        stdoutPath = (outputDirectory as NSString).appendingPathComponent("stdout-\(stamp).log")
        stderrPath = (outputDirectory as NSString).appendingPathComponent("stderr-\(stamp).log")
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        if let input {
            let inputPath = (outputDirectory as NSString).appendingPathComponent("stdin-\(stamp).txt")
            _ = FileManager.default.createFile(atPath: inputPath, contents: Data(input.utf8))
            process.standardInput = FileHandle(forReadingAtPath: inputPath)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
    }

    /// `portal up` with its data in `dataDirectory` on the given ports (not started yet).
    public static func up(dataDirectory: String, httpPort: Int, httpsPort: Int, appPort: Int, outputDirectory: String,
                          launcher: [String] = []) throws -> PortalProcess {
        try PortalProcess(arguments: [
            "up", "--data-dir", dataDirectory, "--http-port", "\(httpPort)", "--https-port", "\(httpsPort)",
            "--app-port", "\(appPort)",
        ], outputDirectory: outputDirectory, launcher: launcher)
    }

    public func start() throws {
        try process.run()
    }

    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits until `condition` holds for the output, or the process exits, or `seconds` pass.
    public func waitForOutput(seconds: Double, _ condition: (String, String) -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition(stdout, stderr) { return true }
            if !process.isRunning { return condition(stdout, stderr) }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Waits for exit up to `seconds`; returns the status, or nil when still running.
    public func waitForExit(seconds: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if !process.isRunning { return process.terminationStatus }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return process.isRunning ? nil : process.terminationStatus
    }

    public func signal(_ number: Int32) {
        if process.isRunning { kill(process.processIdentifier, number) }
    }

    /// Runs to completion (for short commands such as `check` and `version`).
    public static func run(_ arguments: [String], outputDirectory: String, environment: [String: String] = [:],
                           input: String? = nil) async throws -> (status: Int32, stdout: String, stderr: String) {
        let child = try PortalProcess(arguments: arguments, outputDirectory: outputDirectory, environment: environment,
                                      input: input)
        try child.start()
        guard let status = await child.waitForExit(seconds: 60) else {
            child.signal(SIGKILL)
            throw PortalProcessError.timedOut(arguments)
        }
        return (status, child.stdout, child.stderr)
    }

    /// PIDs of running processes whose command line contains `text`.
    public static func processes(containing text: String) -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry), pid != getpid(),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { return nil }
            let commandLine = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            guard commandLine.contains(text) else { return nil }
            // Zombies have exited already.
            if let status = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
               status.contains(") Z ") { return nil }
            return pid
        }
    }
}

public enum PortalProcessError: Error, CustomStringConvertible {
    case binaryNotFound(near: String)
    case timedOut([String])

    public var description: String {
        switch self {
        case .binaryNotFound(let near):
            "the portal executable was not found near \(near); build it first with `swift build --build-tests`"
        case .timedOut(let arguments):
            "portal \(arguments.joined(separator: " ")) did not finish in time"
        }
    }
}
