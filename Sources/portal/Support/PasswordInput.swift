import ArgumentParser
import Foundation
import PortalData
#if canImport(Glibc)
import Glibc
#endif

/// Where a new password comes from: standard input (scripts), a generated one shown once, or a
/// prompt on the terminal with echo off, typed twice.
struct PasswordInput: ParsableArguments {
    @Flag(help: "Read the password from the first line of standard input (for scripts).")
    var passwordStdin = false

    @Flag(help: "Generate a random password and print it once.")
    var generatePassword = false

    func validate() throws {
        if passwordStdin && generatePassword {
            throw ValidationError("--password-stdin and --generate-password cannot be used together")
        }
    }

    /// The password, and whether it was generated (and so must be shown).
    func read() throws -> (password: String, generated: Bool) {
        if generatePassword { return (PasswordGenerator.make(), true) }
        if passwordStdin {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw CommandFailure("--password-stdin: standard input held no password")
            }
            return (line, false)
        }
        guard isatty(STDIN_FILENO) == 1 else {
            throw CommandFailure("no terminal to ask for the password: use --password-stdin or --generate-password")
        }
        let first = try Self.prompt("New password: ")
        let second = try Self.prompt("Repeat the password: ")
        guard first == second else { throw CommandFailure("the two passwords differ; nothing was changed") }
        return (first, false)
    }

    /// One line from the terminal without echo; the terminal is restored even on error.
    private static func prompt(_ text: String) throws -> String {
        FileHandle.standardError.write(Data(text.utf8))
        var saved = termios()
        guard tcgetattr(STDIN_FILENO, &saved) == 0 else { throw CommandFailure("cannot read the terminal settings") }
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard let line = readLine(strippingNewline: true) else { throw CommandFailure("no password was typed") }
        return line
    }
}
