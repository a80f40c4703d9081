import Foundation

/// How a log file is rotated and how long old files are kept.
struct LogRotation: Sendable, Equatable {
    /// Rotate when the file passes this many bytes (0: never by size).
    var maxBytes: Int
    /// Rotate when the local date changes.
    var daily: Bool
    /// Delete rotated files older than this many days.
    var keepDays: Int

    static let none = LogRotation(maxBytes: 0, daily: false, keepDays: 36_500)
}

/// An append-only log file that can be reopened (after an outside `logrotate`, on SIGUSR1) and
/// rotates itself by size or day, keeping rotated files `keepDays` days. Not thread-safe: its
/// owner calls it from one serial queue.
final class LogFile {
    let path: String
    private let rotation: LogRotation
    private var descriptor: Int32 = -1
    private var size = 0
    private var openedDay: Int
    /// Told (at most once a minute) when lines cannot be written: a full disk, a lost folder.
    var onWriteFailure: ((String) -> Void)?
    private var lastFailureReport: Date?

    init(path: String, rotation: LogRotation) throws {
        self.path = path
        self.rotation = rotation
        self.openedDay = Self.dayNumber(Date())
        try open()
        // Files rotated before a restart expire too, even if this one is never rotated again.
        removeExpired()
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    private func open() throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let opened = Foundation.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard opened >= 0 else {
            throw LogFileError(description: "cannot open log file \(path): \(String(cString: strerror(errno)))")
        }
        if descriptor >= 0 { close(descriptor) }
        descriptor = opened
        size = Int(lseek(opened, 0, SEEK_END))
        if size < 0 { size = 0 }
        openedDay = Self.dayNumber(Date())
    }

    /// Closes and opens the path again (the file may have been moved away).
    func reopen() {
        try? open()
        removeExpired()
    }

    /// Appends `text` (whole lines). A batch that would pass the size limit fills the file up to
    /// it line by line, and the rest goes to the next file.
    func write(_ text: String, now: Date = Date()) {
        write(bytes: Array(text.utf8), now: now)
    }

    /// Appends whole lines (`bytes` ends with a newline), rotating first when they pass a limit.
    func write(bytes: [UInt8], now: Date = Date()) {
        guard rotation.maxBytes > 0, size + bytes.count > rotation.maxBytes else {
            rotateIfNeeded(adding: bytes.count, now: now)
            append(bytes[...])
            return
        }
        func lineEnd(after start: Int) -> Int {
            (bytes[start...].firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }) ?? bytes.count
        }
        var start = 0
        while start < bytes.count {
            var end = lineEnd(after: start)
            rotateIfNeeded(adding: end - start, now: now)
            while end < bytes.count {
                let next = lineEnd(after: end)
                if size + (next - start) > rotation.maxBytes { break }
                end = next
            }
            append(bytes[start..<end])
            start = end
        }
    }

    private func append(_ bytes: ArraySlice<UInt8>) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return Foundation.write(descriptor, base + offset, buffer.count - offset)
            }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 {
                reportFailure(written < 0 ? String(cString: strerror(errno)) : "nothing written")
                break
            }
            offset += written
        }
        size += offset
    }

    private func reportFailure(_ reason: String, now: Date = Date()) {
        if let last = lastFailureReport, now.timeIntervalSince(last) < 60 { return }
        lastFailureReport = now
        onWriteFailure?("cannot write to log file \(path): \(reason); its lines are being lost")
    }

    private func rotateIfNeeded(adding count: Int, now: Date) {
        let day = Self.dayNumber(now)
        let bySize = rotation.maxBytes > 0 && size > 0 && size + count > rotation.maxBytes
        let byDay = rotation.daily && day != openedDay && size > 0
        guard bySize || byDay else { return }
        let stamp = Self.stamp(now)
        var target = "\(path).\(stamp)"
        var suffix = 1
        while FileManager.default.fileExists(atPath: target) {
            target = "\(path).\(stamp)-\(suffix)"
            suffix += 1
        }
        if rename(path, target) == 0 || errno == ENOENT {
            // (ENOENT: the file was moved away without a SIGUSR1; a new one starts at the path.)
            try? open()
        }
        removeExpired(now: now)
    }

    /// Deletes rotated siblings (`<name>.YYYYMMDD-HHMMSS`, maybe with `-N`) older than `keepDays`;
    /// other files beside the log (`access.log.bak`, archives) are not the edge's to delete.
    func removeExpired(now: Date = Date()) {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let folder = directory.isEmpty ? "." : directory
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        let cutoff = now.addingTimeInterval(-Double(rotation.keepDays) * 86_400)
        for entry in entries where Self.isRotatedName(entry, of: name) {
            let full = (folder as NSString).appendingPathComponent(entry)
            if let modified = (try? FileManager.default.attributesOfItem(atPath: full))?[.modificationDate] as? Date,
               modified < cutoff {
                try? FileManager.default.removeItem(atPath: full)
            }
        }
    }

    /// True for the names rotation gives: `<name>.` then 8 digits, `-`, 6 digits, and an
    /// optional `-` with more digits for a second rotation within the same second.
    static func isRotatedName(_ entry: String, of name: String) -> Bool {
        guard entry.hasPrefix(name + ".") else { return false }
        let stamp = Array(entry.utf8.dropFirst(name.utf8.count + 1))
        guard stamp.count >= 15, stamp[8] == UInt8(ascii: "-"),
              stamp[0..<8].allSatisfy(ASCII.isDigit), stamp[9..<15].allSatisfy(ASCII.isDigit) else { return false }
        let rest = stamp[15...]
        return rest.isEmpty || (rest.first == UInt8(ascii: "-") && rest.count > 1 && rest.dropFirst().allSatisfy(ASCII.isDigit))
    }

    static func dayNumber(_ date: Date) -> Int {
        var time = time_t(date.timeIntervalSince1970)
        var parts = tm()
        localtime_r(&time, &parts)
        return Int(parts.tm_year) * 1000 + Int(parts.tm_yday)
    }

    static func stamp(_ date: Date) -> String {
        TimeFormat.format(Int(date.timeIntervalSince1970), "%Y%m%d-%H%M%S", utc: false)
    }
}

struct LogFileError: Error, CustomStringConvertible {
    let description: String
}
