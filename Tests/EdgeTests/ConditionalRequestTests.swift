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
