import CompressNIO
@testable import Edge
import NIOCore
import Testing

@Suite("Edge: gzip of whole bodies (libdeflate)")
struct WholeBodyGzipTests {
    static let page = "<!DOCTYPE html><html><body>" + (0..<300).map { "<tr><td>Empresa \($0)</td><td>\($0 * 37 % 101)</td></tr>\n" }.joined() + "</body></html>"

    static func gunzip(_ buffer: ByteBuffer) throws -> String {
        var input = buffer
        return String(buffer: try input.decompress(with: .gzip()))
    }

    @Test("every level gives a gzip member that decodes to the original, close in size to zlib's at that level")
    func levels() throws {
        let body = ByteBuffer(string: Self.page)
        for level in 1...9 {
            let compressed = try #require(WholeBodyGzip.compress(body, level: level, allocator: ByteBufferAllocator()))
            #expect(try Self.gunzip(compressed) == Self.page)
            let zlib = try GzipStream(level: level)
            var reference = try zlib.compress(body, sync: false, allocator: ByteBufferAllocator())
            var tail = try zlib.finish(allocator: ByteBufferAllocator())
            reference.writeBuffer(&tail)
            // The level map is chosen over a corpus (within 1 % there); one page may differ more.
            #expect(Double(compressed.readableBytes) <= Double(reference.readableBytes) * (level == 6 ? 1.02 : 1.05),
                    "level \(level): \(compressed.readableBytes) against zlib's \(reference.readableBytes)")
        }
    }

    @Test("a gathered body emits nothing until its end, then all of it; an empty one is a valid empty member")
    func gathered() throws {
        let allocator = ByteBufferAllocator()
        let gzip = GatheredGzip(level: 6)
        let text = Array(Self.page.utf8)
        var emitted = 0
        for start in stride(from: 0, to: text.count, by: 1000) {
            let part = ByteBuffer(bytes: text[start..<min(start + 1000, text.count)])
            emitted += try gzip.compress(part, sync: true, allocator: allocator).readableBytes
            #expect(!gzip.hasPending)
        }
        #expect(emitted == 0)
        #expect(try Self.gunzip(try gzip.finish(allocator: allocator)) == Self.page)
        #expect(try Self.gunzip(try GatheredGzip(level: 6).finish(allocator: allocator)) == "")
    }

    @Test("short bodies of known length are gathered; long or unknown ones and brotli stream")
    func choice() throws {
        #expect(try BodyCompressors.make(coding: "gzip", gzipLevel: 6, brotliLevel: 5, bodyLength: 20_000) is GatheredGzip)
        #expect(try BodyCompressors.make(coding: "gzip", gzipLevel: 6, brotliLevel: 5,
                                         bodyLength: WholeBodyGzip.gatherLimit + 1) is GzipStream)
        #expect(try BodyCompressors.make(coding: "gzip", gzipLevel: 6, brotliLevel: 5) is GzipStream)
        #expect(try BodyCompressors.make(coding: "br", gzipLevel: 6, brotliLevel: 5, bodyLength: 100) is BrotliStream)
    }
}
