import ArgumentParser
import Foundation
import PortalCore
import PortalData

/// `--config` and `--data-dir`, shared by every command that reads the configuration.
struct ConfigurationOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Configuration file (YAML); defaults apply without one.",
                                            valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("Data folder (database, secrets, certificates, logs).",
                                            valueName: "dir"))
    var dataDir: String?

    /// Loads the file and environment, then applies `--data-dir`.
    func load() throws -> PortalConfiguration {
        var configuration = try ConfigurationLoader.load(file: config)
        if let dataDir {
            guard !dataDir.isEmpty else { throw ValidationError("--data-dir must not be empty") }
            configuration.dataDirectory = dataDir
        }
        return configuration
    }

    /// The same options as arguments for a child process.
    var arguments: [String] {
        var arguments: [String] = []
        if let config { arguments += ["--config", config] }
        if let dataDir { arguments += ["--data-dir", dataDir] }
        return arguments
    }
}

/// Checks a port given on the command line.
func validatePort(_ port: Int?, flag: String) throws {
    if let port, !(1...65_535).contains(port) {
        throw ValidationError("\(flag) must be a port number from 1 to 65535, got \(port)")
    }
}

/// A command that cannot go on; ArgumentParser prints the message as one line and exits 1.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) {
        self.description = description
    }
}

/// Creates the data folder and the app's secrets, or fails with one clear line.
@discardableResult
func prepareDataDirectory(_ configuration: PortalConfiguration) throws -> DataDirectory {
    let dataDirectory = DataDirectory(configuration.dataDirectory)
    do {
        try dataDirectory.prepare()
        _ = try SecretStore(dataDirectory: dataDirectory).secret("session")
    } catch {
        throw CommandFailure("\(error)")
    }
    return dataDirectory
}
