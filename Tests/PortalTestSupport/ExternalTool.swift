import Foundation

/// Programs from the system that some tests drive (headless Chromium, database servers). Such a
/// test is skipped with a message when the program is missing on a developer's machine, but in
/// CI (`CI=true`) it runs anyway and fails on the missing program, so a skip never hides there.
public enum ExternalTool {
    /// True when the environment says this is a CI run.
    public static var isCI: Bool {
        ProcessInfo.processInfo.environment["CI"] == "true"
    }

    /// The full path of `name` found in `PATH`, or nil.
    public static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Whether a test needing all of `names` should run: they are installed, or this is CI.
    public static func shouldRun(needing names: [String]) -> Bool {
        isCI || names.allSatisfy { find($0) != nil }
    }
}
