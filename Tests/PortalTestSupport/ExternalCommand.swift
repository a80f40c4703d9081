import Foundation

/// A system program (curl, openssl) run to completion without holding a thread: its output goes
/// to files and its exit is polled between sleeps. Waiting in `waitUntilExit` or on a pipe would
/// hold one of the few threads that run every test's tasks, and on a loaded machine the servers
/// those tests talk to would then answer late.
public enum ExternalCommand {
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    public struct TimedOut: Error, CustomStringConvertible {
        public let arguments: [String]
        public var description: String { "\(arguments.joined(separator: " ")) did not finish in time" }
    }

    /// Runs `arguments` (the program found in `PATH`, then its arguments) with standard input
    /// from `input` or /dev/null; kills it after `seconds`.
    public static func run(_ arguments: [String], input: String? = nil, seconds: Double = 90) async throws -> Result {
        let directory = NSTemporaryDirectory() + "command-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stdoutPath = directory + "/stdout", stderrPath = directory + "/stderr", stdinPath = directory + "/stdin"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stdinPath, contents: Data((input ?? "").utf8))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let output = FileHandle(forWritingAtPath: stdoutPath), errors = FileHandle(forWritingAtPath: stderrPath)
        let source = FileHandle(forReadingAtPath: stdinPath)
        defer { try? output?.close(); try? errors?.close(); try? source?.close() }
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = source
        try process.run()
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            if Date() > deadline {
                kill(process.processIdentifier, SIGKILL)
                throw TimedOut(arguments: arguments)
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        func text(_ path: String) -> String {
            String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        }
        return Result(status: process.terminationStatus, stdout: text(stdoutPath), stderr: text(stderrPath))
    }
}
