import Foundation

/// HTTP dates: written as IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), read in any of HTTP's formats.
enum HTTPDate {
    static func format(_ seconds: Int) -> String {
        TimeFormat.format(seconds, "%a, %d %b %Y %H:%M:%S GMT", utc: true)
    }

    /// Seconds since the epoch, or nil when the text is not an HTTP date. All three formats of
    /// RFC 9110 §5.6.7 are read, as recipients must: IMF-fixdate, the obsolete RFC 850 form
    /// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime's (`Sun Nov  6 08:49:37 1994`).
    static func parse(_ text: String) -> Int? {
        let fields = text.split(separator: " ")
        switch fields.count {
        case 6 where fields[5] == "GMT":
            return make(year: Int(fields[3]), month: fields[2], day: fields[1], clock: fields[4])
        case 4 where fields[3] == "GMT":
            let date = fields[1].split(separator: "-", omittingEmptySubsequences: false)
            guard date.count == 3, date[2].count == 2, let shortYear = Int(date[2]) else { return nil }
            return make(year: fullYear(shortYear), month: date[1], day: date[0], clock: fields[2])
        case 5:
            return make(year: Int(fields[4]), month: fields[1], day: fields[2], clock: fields[3])
        default:
            return nil
        }
    }

    /// A two-digit year more than 50 years ahead is the latest past year with those digits
    /// (RFC 9110 §5.6.7).
    private static func fullYear(_ shortYear: Int) -> Int {
        var parts = tm()
        var now = time(nil)
        gmtime_r(&now, &parts)
        let currentYear = Int(parts.tm_year) + 1900
        var year = currentYear - currentYear % 100 + shortYear
        if year > currentYear + 50 { year -= 100 }
        return year
    }

    private static func make(year: Int?, month: Substring, day: Substring, clock: Substring) -> Int? {
        let time = clock.split(separator: ":", omittingEmptySubsequences: false)
        guard let year, let day = Int(day), let month = months.firstIndex(of: String(month)), time.count == 3,
              let hour = Int(time[0]), let minute = Int(time[1]), let second = Int(time[2]),
              (1...31).contains(day), (1970...9999).contains(year),
              (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second)
        else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        return Int(timegm(&parts))
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
}
