import Foundation
import PortalTestSupport

/// The `openssl` command-line tool, run to completion with its output captured.
enum OpenSSLTool {
    /// Runs `openssl arguments…` with no input; returns its exit status and what it printed
    /// (standard output, then standard error).
    static func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let result = try await ExternalCommand.run(["openssl"] + arguments)
        return (result.status, result.stdout + result.stderr)
    }

    /// The same, waiting on the calling thread: for NIO's thread pool (the test OCSP responder)
    /// and set-up code that has no task to suspend.
    static func runWaiting(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
