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
}
