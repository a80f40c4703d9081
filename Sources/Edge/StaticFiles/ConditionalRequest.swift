import Foundation
import NIOHTTP1

/// What a request's validators and `Range` ask of a file (RFC 9110 §13 and §14).
enum ConditionalRequest {
    enum Outcome: Equatable {
        case full
        case notModified
        case partial(ClosedRange<Int>)
        case unsatisfiable
        /// `If-Match` or `If-Unmodified-Since` does not hold: 412.
        case preconditionFailed
    }

    /// A file's strong validator: its size and its modification time to the nanosecond (as
    /// Apache's `FileETag MTime Size`, finer than nginx's whole seconds, so two versions
    /// written within one second differ), and the precompressed sibling's coding.
    static func entityTag(size: Int, modifiedNanoseconds: Int, encoding: String?) -> String {
        "\"\(String(size, radix: 16))-\(String(modifiedNanoseconds, radix: 16))\(encoding.map { "-\($0)" } ?? "")\""
    }

    /// The preconditions in RFC 9110 §13.2.2's order, then `Range`. An `If-Modified-Since` later
    /// than `now` is ignored, as Apache does: a clock-skewed or made-up date must not hide
    /// changes.
    static func evaluate(headers: HTTPHeaders, etag: String, lastModified: Int, size: Int,
                         now: Int = Int(time(nil))) -> Outcome {
        if let match = headers.first(name: "if-match") {
            if !matchesStrongly(match, etag: etag) { return .preconditionFailed }
        } else if let since = headers.first(name: "if-unmodified-since").flatMap(HTTPDate.parse), lastModified > since {
            return .preconditionFailed
        }
        if let match = headers.first(name: "if-none-match") {
            if matches(match, etag: etag) { return .notModified }
        } else if let since = headers.first(name: "if-modified-since").flatMap(HTTPDate.parse), lastModified <= since,
                  since <= now {
            return .notModified
        }
        guard let range = headers.first(name: "range") else { return .full }
        if let ifRange = headers.first(name: "if-range") {
            let stillValid = ifRange.hasPrefix("\"") ? ifRange == etag : HTTPDate.parse(ifRange).map { lastModified == $0 } ?? false
            if !stillValid { return .full }
        }
        return parseRange(range, size: size)
    }

    /// `If-None-Match`: `*` or a list of entity tags, compared weakly.
    static func matches(_ header: String, etag: String) -> Bool {
        let strip: (Substring) -> Substring = { $0.hasPrefix("W/") ? $0.dropFirst(2) : $0 }
        let target = strip(Substring(etag))
        for candidate in header.split(separator: ",") {
            let tag = Substring(candidate.trimmingASCIISpaces())
            if tag == "*" || strip(tag) == target { return true }
        }
        return false
    }

    /// `If-Match`: `*` or a list of entity tags, compared strongly (a weak tag never matches).
    static func matchesStrongly(_ header: String, etag: String) -> Bool {
        guard !etag.hasPrefix("W/") else { return header.trimmingASCIISpaces() == "*" }
        for candidate in header.split(separator: ",") {
            let tag = candidate.trimmingASCIISpaces()
            if tag == "*" || tag == etag { return true }
        }
        return false
    }

    /// One byte range (`bytes=0-99`, `bytes=500-`, `bytes=-500`); several ranges get the whole file.
    static func parseRange(_ header: String, size: Int) -> Outcome {
        guard header.lowercased().hasPrefix("bytes=") else { return .full }
        let specs = header.dropFirst("bytes=".count).split(separator: ",")
        guard specs.count == 1, let spec = specs.first else { return .full }
        let parts = spec.trimmingASCIISpaces().split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .full }
        let first = parts[0].isEmpty ? nil : Int(parts[0])
        let last = parts[1].isEmpty ? nil : Int(parts[1])
        if !parts[0].isEmpty && first == nil || !parts[1].isEmpty && last == nil { return .full }
        // An empty file has no bytes to pick: the whole (empty) file answers, as nginx does
        // (RFC 9110 §14.1.1 makes a suffix range on it satisfiable; a server may ignore others).
        guard size > 0 else { return .full }
        switch (first, last) {
        case (let start?, let end?):
            guard start <= end else { return .full }
            guard start < size else { return .unsatisfiable }
            return .partial(start...min(end, size - 1))
        case (let start?, nil):
            guard start < size else { return .unsatisfiable }
            return .partial(start...(size - 1))
        case (nil, let suffix?):
            guard suffix > 0 else { return .unsatisfiable }
            return .partial(max(0, size - suffix)...(size - 1))
        case (nil, nil):
            return .full
        }
    }
}
