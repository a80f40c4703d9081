import ArgumentParser
import Edge
import Foundation
import PortalCore

/// `portal check`: validates the configuration without starting anything (Apache's `httpd -t`),
/// and with `--dump-sites` prints the site table (`httpd -t -D DUMP_VHOSTS`).
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the configuration; prints 'Syntax OK' or every error with file:line.")

    @OptionGroup var options: ConfigurationOptions

    @Flag(help: "Print the listeners, sites, certificates and routes the edge would serve.")
    var dumpSites = false

    func run() throws {
        let configuration: PortalConfiguration
        do {
            configuration = try options.load()
        } catch let error as ConfigurationError {
            for issue in error.issues { printError(issue.description) }
            throw ExitCode(1)
        }
        let source = options.config ?? "configuration"
        let runtime: EdgeRuntime
        do {
            runtime = try EdgeRuntime.resolve(configuration, checkOnly: true)
        } catch let error as EdgeConfigurationError {
            // Problems placed at a line already start with the file's name.
            for problem in error.problems { printError(problem.hasPrefix(source + ":") ? problem : "\(source): \(problem)") }
            throw ExitCode(1)
        } catch {
            printError("\(source): \(error)")
            throw ExitCode(1)
        }
        for warning in runtime.warnings {
            // A warning placed at a line reads as a compiler's: `file:line:column: warning: ...`.
            if warning.hasPrefix(source + ":"), let end = warning.range(of: ": ") {
                printError("\(warning[..<end.lowerBound]): warning: \(warning[end.upperBound...])")
            } else {
                printError("\(source): warning: \(warning)")
            }
        }
        for warning in UpstreamCheck.warnings(configuration) { printError("\(source): warning: \(warning)") }
        if dumpSites { print(SiteTable.render(configuration, runtime: runtime)) }
        print("Syntax OK")
    }
}

/// Writes one line to standard error.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
