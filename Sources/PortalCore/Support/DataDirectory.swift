import Foundation

/// The layout of the data folder (`./data` by default): where each process keeps its files.
public struct DataDirectory: Sendable, Equatable {
    /// The folder itself, as configured.
    public let path: String

    public init(_ path: String) {
        self.path = path
    }

    public var databaseFile: String { join("portal.sqlite") }
    public var secretsDirectory: String { join("secrets") }
    public var tlsDirectory: String { join("tls") }
    public var logsDirectory: String { join("logs") }
    public var accessLogFile: String { join("logs/access.log") }

    private func join(_ component: String) -> String {
        (path as NSString).appendingPathComponent(component)
    }

    /// Creates the folder and its sub-folders (secrets 0700) and proves it is writable.
    public func prepare() throws {
        let fileManager = FileManager.default
        do {
            try fileManager.createDirectory(atPath: path, withIntermediateDirectories: true)
            for directory in [tlsDirectory, logsDirectory] {
                try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            try fileManager.createDirectory(atPath: secretsDirectory, withIntermediateDirectories: true,
                                            attributes: [.posixPermissions: 0o700])
        } catch {
            throw DataDirectoryError(path: path, reason: Self.reason(error))
        }
        let probe = join(".write-test-\(getpid())")
        let descriptor = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw DataDirectoryError(path: path, reason: String(cString: strerror(errno)))
        }
        close(descriptor)
        unlink(probe)
    }

    static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return nsError.localizedDescription
    }
}

/// The data folder cannot be created or written.
public struct DataDirectoryError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String

    public var description: String {
        "data directory \(path) is not usable: \(reason). Choose another with --data-dir or fix its permissions"
    }
}
