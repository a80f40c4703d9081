import Foundation

/// Finds which process listens on a TCP port, the way the seed's troubleshooting uses
/// `netstat -ano | findstr :80` and `tasklist /FI "PID eq …"`.
public struct PortHolder: Sendable, Equatable, CustomStringConvertible {
    public let pid: Int32
    /// Short process name (`/proc/<pid>/comm`).
    public let name: String
    /// Full command line, when readable.
    public let commandLine: String

    public var description: String {
        commandLine.isEmpty ? "\(name) (pid \(pid))" : "\(name) (pid \(pid): \(commandLine))"
    }

    /// The process listening on `port` (any address), or nil when none is found or it cannot be seen.
    public static func find(port: Int) -> PortHolder? {
        let inodes = listeningSocketInodes(port: port)
        guard !inodes.isEmpty else { return nil }
        let fileManager = FileManager.default
        guard let entries = try? fileManager.contentsOfDirectory(atPath: "/proc") else { return nil }
        for entry in entries {
            guard let pid = Int32(entry) else { continue }
            let fdDirectory = "/proc/\(entry)/fd"
            guard let descriptors = try? fileManager.contentsOfDirectory(atPath: fdDirectory) else { continue }
            for descriptor in descriptors {
                guard let target = try? fileManager.destinationOfSymbolicLink(atPath: "\(fdDirectory)/\(descriptor)"),
                      target.hasPrefix("socket:["), target.hasSuffix("]")
                else { continue }
                let inode = String(target.dropFirst("socket:[".count).dropLast())
                if inodes.contains(inode) {
                    return PortHolder(pid: pid, name: readTrimmed("/proc/\(entry)/comm"),
                                      commandLine: readCommandLine(pid: entry))
                }
            }
        }
        return nil
    }

    /// Socket inodes in LISTEN state on `port` from `/proc/net/tcp` and `/proc/net/tcp6`.
    static func listeningSocketInodes(port: Int) -> Set<String> {
        var result: Set<String> = []
        let portHex = String(format: "%04X", port)
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = readWhole(table) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
                guard fields.count > 9, fields[3] == "0A",
                      let colon = fields[1].lastIndex(of: ":"),
                      fields[1][fields[1].index(after: colon)...] == portHex
                else { continue }
                result.insert(String(fields[9]))
            }
        }
        return result
    }

    /// The whole of a `/proc` file. These report a size of 0, and `String(contentsOfFile:)`
    /// stops after the first page (about 27 sockets of `/proc/net/tcp`), so read to the end.
    static func readWhole(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.readToEnd() else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    private static func readTrimmed(_ path: String) -> String {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "?").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func readCommandLine(pid: String) -> String {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return "" }
        let parts = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        let line = parts.joined(separator: " ")
        return line.count > 160 ? String(line.prefix(157)) + "..." : line
    }
}
