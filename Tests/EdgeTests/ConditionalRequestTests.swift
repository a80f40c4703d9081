@testable import Edge
import NIOHTTP1
import Testing

@Suite("Edge: conditional and range requests on files")
struct ConditionalRequestTests {
    static let modified = 1_700_000_000

    static func outcome(_ fields: [(String, String)], size: Int = 100) -> ConditionalRequest.Outcome {
        ConditionalRequest.evaluate(headers: HTTPHeaders(fields), etag: "\"v1\"", lastModified: modified, size: size)
    }

    @Test("If-Range with a date holds only for exactly the file's Last-Modified")
    func ifRangeDate() {
        let range = ("Range", "bytes=0-9")
        #expect(Self.outcome([range, ("If-Range", HTTPDate.format(Self.modified))]) == .partial(0...9))
        // A later date (the file was replaced by an older version since) gets the whole file.
        #expect(Self.outcome([range, ("If-Range", HTTPDate.format(Self.modified + 3600))]) == .full)
        #expect(Self.outcome([range, ("If-Range", HTTPDate.format(Self.modified - 1))]) == .full)
        #expect(Self.outcome([range, ("If-Range", "\"v1\"")]) == .partial(0...9))
        #expect(Self.outcome([range, ("If-Range", "W/\"v1\"")]) == .full)
    }

    @Test("HTTP dates are read in all three formats of RFC 9110; anything else is not a date")
    func dateFormats() {
        // 1994-11-06 08:49:37 UTC, RFC 9110's own example.
        let expected = 784_111_777
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == expected)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == expected)
        #expect(HTTPDate.parse("Sun Nov  6 08:49:37 1994") == expected)
        #expect(HTTPDate.parse("Wednesday, 25-Nov-26 13:37:04 GMT") == HTTPDate.parse("Wed, 25 Nov 2026 13:37:04 GMT"))
        for bad in ["", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06-Nov-1994 08:49:37 GMT", "Sun Nov 6 08:49 1994",
                    "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", "1994-11-06T08:49:37Z"] {
            #expect(HTTPDate.parse(bad) == nil, "\(bad)")
        }
        // An obsolete-format date still makes a conditional request work.
        let asctime = "Tue Nov 14 22:13:20 2023"
        #expect(HTTPDate.parse(asctime) == Self.modified)
        #expect(ConditionalRequest.evaluate(headers: HTTPHeaders([("If-Modified-Since", asctime)]),
                                            etag: "\"v1\"", lastModified: Self.modified, size: 100) == .notModified)
    }

    @Test("any range on an empty file answers with the whole (empty) file")
    func emptyFile() {
        for spec in ["bytes=-5", "bytes=0-", "bytes=0-0"] {
            #expect(Self.outcome([("Range", spec)], size: 0) == .full, "\(spec)")
        }
        #expect(Self.outcome([("Range", "bytes=200-")]) == .unsatisfiable)
    }

    @Test("If-Modified-Since: 304 for the file's date or later, but a date in the future is ignored")
    func ifModifiedSince() {
        let now = Self.modified + 60
        let outcome = { (date: Int) in
            ConditionalRequest.evaluate(headers: HTTPHeaders([("If-Modified-Since", HTTPDate.format(date))]),
                                        etag: "\"v1\"", lastModified: Self.modified, size: 100, now: now)
        }
        #expect(outcome(Self.modified) == .notModified)
        #expect(outcome(Self.modified + 30) == .notModified)
        #expect(outcome(Self.modified - 1) == .full)
        #expect(outcome(now + 86_400 * 365 * 70) == .full)
    }

    @Test("the entity tag changes with the size, the time to the nanosecond, and the sibling's coding")
    func entityTag() {
        let base = ConditionalRequest.entityTag(size: 8, modifiedNanoseconds: 1_700_000_000_000_000_001, encoding: nil)
        #expect(base.hasPrefix("\"8-") && base.hasSuffix("\""))
        #expect(base != ConditionalRequest.entityTag(size: 8, modifiedNanoseconds: 1_700_000_000_000_000_002, encoding: nil))
        #expect(base != ConditionalRequest.entityTag(size: 9, modifiedNanoseconds: 1_700_000_000_000_000_001, encoding: nil))
        #expect(ConditionalRequest.entityTag(size: 8, modifiedNanoseconds: 1, encoding: "br").hasSuffix("-br\""))
    }
}
