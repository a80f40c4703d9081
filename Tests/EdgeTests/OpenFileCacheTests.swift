@testable import Edge
import NIOCore
import Testing

@Suite("Edge: open-file cache")
struct OpenFileCacheTests {
    @Test("clients arriving while a file is being compressed wait for that one compression")
    func oneCompressionPerVersion() {
        let cache = OpenFileCache()
        var received: [String] = []
        let first = cache.joinCompression("f|gzip|10|1") { received.append("first \(Self.text($0))") }
        let second = cache.joinCompression("f|gzip|10|1") { received.append("second \(Self.text($0))") }
        // Another coding or another version of the file is a compression of its own.
        let otherCoding = cache.joinCompression("f|br|10|1") { received.append("br \(Self.text($0))") }
        #expect(first && !second && otherCoding)
        cache.finishCompression("f|gzip|10|1", result: .success(ByteBuffer(string: "zz")))
        #expect(received == ["first zz", "second zz"])
        // Once finished, the next client starts afresh (the result itself is kept by the entry).
        #expect(cache.joinCompression("f|gzip|10|1") { _ in })
        struct Failed: Error {}
        cache.finishCompression("f|br|10|1", result: .failure(Failed()))
        #expect(received.last == "br failed")
    }

    private static func text(_ result: Result<ByteBuffer, any Error>) -> String {
        switch result {
        case .success(let buffer): String(buffer: buffer)
        case .failure: "failed"
        }
    }
}
