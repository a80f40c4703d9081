public import Foundation

/// Writes files atomically (temporary file, fsync, rename) with an exact mode, so a crash
/// never leaves a half-written secret or certificate and a key is never readable by others.
public enum SecureFile {
    /// Writes `text` to `path` with permission bits `mode`.
    public static func write(_ text: String, to path: String, mode: mode_t) throws {
        try write(Data(text.utf8), to: path, mode: mode)
    }

    /// Writes `data` to `path` with permission bits `mode`.
    public static func write(_ data: Data, to path: String, mode: mode_t) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = (directory.isEmpty ? "." : directory) + "/.\((path as NSString).lastPathComponent).\(getpid()).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw SecureFileError(path: temporary, code: errno) }
        var failure: Int32?
        data.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(descriptor, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
        }
        if failure == nil, fchmod(descriptor, mode) != 0 { failure = errno }
        if failure == nil, fsync(descriptor) != 0 { failure = errno }
        close(descriptor)
        if let failure {
            unlink(temporary)
            throw SecureFileError(path: path, code: failure)
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw SecureFileError(path: path, code: code)
        }
    }
}

/// A file could not be written; says which and why.
public struct SecureFileError: Error, CustomStringConvertible {
    public let path: String
    public let code: Int32

    public var description: String {
        "cannot write \(path): \(String(cString: strerror(code)))"
    }
}
