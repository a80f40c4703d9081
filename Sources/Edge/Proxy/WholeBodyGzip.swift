import CLibDeflate
import NIOCore
import NIOPosix

/// gzip of a whole body in one call, through libdeflate, which compresses as well as zlib for
/// much less CPU time but has no streaming mode: bodies that must stream (unknown length, large,
/// or server-sent events) keep zlib (`GzipStream`).
enum WholeBodyGzip {
    /// Longest proxied body gathered to be compressed in one go; longer ones stream.
    static let gatherLimit = 64 * 1024

    /// The libdeflate level used for each configured level (zlib's 1–9 scale): the cheapest one
    /// whose output stays within 1 % of zlib's at that level, measured over 300 HTML, CSS, JS,
    /// JSON and SVG files (docs/benchmarks.md, "Compression"). Level 6, the default, maps to
    /// libdeflate's 5: 0.6 % more bytes than zlib's 6 on that corpus, for 2.3 times less CPU.
    static let libdeflateLevel = [1, 1, 2, 3, 5, 5, 6, 7, 8]

    static func libdeflateLevel(for level: Int) -> Int {
        libdeflateLevel[min(max(level, 1), 9) - 1]
    }

    /// `body` as a gzip member at the configured `level` (1–9), or nil when libdeflate could not do it (the
    /// caller then uses zlib).
    static func compress(_ body: ByteBuffer, level: Int, allocator: ByteBufferAllocator) -> ByteBuffer? {
        guard body.readableBytes > 0,
              let compressor = ThreadCompressors.current.compressor(level: libdeflateLevel(for: level)) else { return nil }
        let bound = libdeflate_gzip_compress_bound(compressor, body.readableBytes)
        var output = allocator.buffer(capacity: bound)
        let written = body.withUnsafeReadableBytes { input in
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { out in
                libdeflate_gzip_compress(compressor, input.baseAddress, input.count, out.baseAddress, out.count)
            }
        }
        return written > 0 ? output : nil
    }
}

/// A response body gathered whole (its length is known and small), then compressed in one call
/// at its end. It never flushes early: nothing of it is written before the last byte arrives,
/// as with nginx's gzip buffers, so it is used only for bodies short enough to arrive at once.
final class GatheredGzip: BodyCompressor {
    private let level: Int
    private var gathered: ByteBuffer?
    /// Never pending: a sync flush has nothing to emit before the end.
    let hasPending = false

    init(level: Int) {
        self.level = level
    }

    func compress(_ input: ByteBuffer, sync: Bool, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        var input = input
        if gathered == nil {
            gathered = input
        } else {
            gathered?.writeBuffer(&input)
        }
        return allocator.buffer(capacity: 0)
    }

    func finish(allocator: ByteBufferAllocator) throws -> ByteBuffer {
        let body = gathered ?? allocator.buffer(capacity: 0)
        gathered = nil
        if let compressed = WholeBodyGzip.compress(body, level: level, allocator: allocator) { return compressed }
        let stream = try GzipStream(level: level)
        var head = try stream.compress(body, sync: false, allocator: allocator)
        var tail = try stream.finish(allocator: allocator)
        head.writeBuffer(&tail)
        return head
    }
}

/// One thread's libdeflate compressors, one per level, made on first use and kept for the
/// thread's life (each holds a few hundred KiB of match-finder tables; making one per response
/// would cost more than compressing a page).
///
/// `@unchecked Sendable`: an instance is created by, stored in the thread-specific slot of, and
/// only ever used by one thread; `ThreadSpecificVariable` merely requires the conformance.
private final class ThreadCompressors: @unchecked Sendable {
    private static let slot = ThreadSpecificVariable<ThreadCompressors>()
    private var byLevel: [OpaquePointer?] = Array(repeating: nil, count: 10)

    static var current: ThreadCompressors {
        if let existing = slot.currentValue { return existing }
        let made = ThreadCompressors()
        slot.currentValue = made
        return made
    }

    func compressor(level: Int) -> OpaquePointer? {
        let level = min(max(level, 1), 9)
        if let existing = byLevel[level] { return existing }
        let made = libdeflate_alloc_compressor(Int32(level))
        byLevel[level] = made
        return made
    }

    deinit {
        for compressor in byLevel {
            if let compressor { libdeflate_free_compressor(compressor) }
        }
    }
}
