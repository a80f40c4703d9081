import ArgumentParser
import PortalCore

/// `portal`: the whole system in one command.
@main
struct Portal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portal",
        abstract: "Portal: an office portal with its own HTTPS edge, app and database.",
        version: PortalVersion.current,
        subcommands: [
            UpCommand.self, AppCommand.self, EdgeCommand.self, CheckCommand.self, UserCommand.self, BackupCommand.self,
            RestoreCommand.self, DatabaseCommand.self, VersionCommand.self,
        ]
    )
}
