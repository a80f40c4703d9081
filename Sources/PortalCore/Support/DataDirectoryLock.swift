import Foundation

/// An advisory lock on `<data_dir>/portal.lock` (flock): every running app holds it shared, a
/// restore needs it alone, so a backup is never restored under a running app and no app starts
/// during a restore. The lock goes with the process, even on SIGKILL.
public final class DataDirectoryLock: Sendable {
    /// How the lock is held.
    public enum Mode: Sendable {
        /// Many holders at once (running apps).
        case shared
        /// One holder and nobody else (a restore).
        case exclusive
    }

    private let descriptor: Int32

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// Takes the lock without waiting; nil when someone else holds it in a conflicting mode.
    public static func acquire(_ directory: DataDirectory, mode: Mode) throws -> DataDirectoryLock? {
        let path = (directory.path as NSString).appendingPathComponent("portal.lock")
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw DataDirectoryError(path: directory.path, reason: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, (mode == .shared ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0 else {
            close(descriptor)
            return nil
        }
        return DataDirectoryLock(descriptor: descriptor)
    }
}
