import ArgumentParser
import PortalCore

/// `portal version`: the version `/health` reports.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Print the version of this build (as /health reports it).")

    func run() {
        print(PortalVersion.current)
    }
}
