import ArgumentParser
import Edge
import Foundation
import PortalCore

/// `portal check`: validates the configuration without starting anything (Apache's `httpd -t`).
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the configuration; prints 'Syntax OK' or every error with file:line.")

    @OptionGroup var options: ConfigurationOptions

    func run() throws {
        let configuration: PortalConfiguration
        do {
            configuration = try options.load()
        } catch let error as ConfigurationError {
            for issue in error.issues { printError(issue.description) }
            throw ExitCode(1)
        }
        var problems: [String] = []
        if let certificate = configuration.edge.certificateFile, let key = configuration.edge.keyFile {
            do {
                _ = try ServerTLS.makeContext(certificateFile: certificate, keyFile: key)
            } catch {
                problems.append("\(options.config ?? "configuration"): edge.certificate_file: \(error)")
            }
        }
        if !problems.isEmpty {
            for problem in problems { printError(problem) }
            throw ExitCode(1)
        }
        print("Syntax OK")
    }
}

/// Writes one line to standard error.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
