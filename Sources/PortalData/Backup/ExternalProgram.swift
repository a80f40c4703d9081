import Foundation

/// Runs a database tool (`pg_dump`, `pg_restore`) and reports its failure with its own words.
enum ExternalProgram {
    /// The full path of `name` on `PATH`, else in the newest `/usr/lib/postgresql/*/bin`.
    static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        if let found = path.split(separator: ":").map({ "\($0)/\(name)" }).first(where: FileManager.default.isExecutableFile) {
            return found
        }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        return versions.compactMap(Int.init).sorted(by: >).map { "/usr/lib/postgresql/\($0)/bin/\(name)" }
            .first(where: FileManager.default.isExecutableFile)
    }

    /// Runs `program` with `arguments` and extra `environment`; throws with its standard error
    /// when it fails. Blocking: call from a command or the thread pool.
    static func run(_ program: String, _ arguments: [String], environment: [String: String] = [:],
                    standardInput: String? = nil) throws {
        guard let executable = find(program) else {
            let package = program.hasPrefix("mariadb") ? "mariadb-client" : "postgresql-client"
            throw BackupError("\(program) is not installed; install Debian's \(package)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        if let standardInput {
            guard let input = FileHandle(forReadingAtPath: standardInput) else { throw BackupError("cannot read \(standardInput)") }
            process.standardInput = input
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw BackupError("\(program) failed (exit \(process.terminationStatus)): \(text.prefix(2000))")
        }
    }
}
