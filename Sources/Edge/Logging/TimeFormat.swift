import Foundation

/// `strftime` over seconds since the epoch, in local time or UTC: the one place the edge
/// formats times for logs and headers.
enum TimeFormat {
    static func format(_ seconds: Int, _ pattern: String, utc: Bool) -> String {
        var time = time_t(seconds)
        var parts = tm()
        if utc { gmtime_r(&time, &parts) } else { localtime_r(&time, &parts) }
        var buffer = [Int8](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, pattern, &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
