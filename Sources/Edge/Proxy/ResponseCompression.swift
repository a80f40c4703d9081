import CBrotli
import CompressNIO
import NIOCore
import NIOHTTP1
import PortalCore

/// Decides whether a response is compressed, the way mod_deflate and nginx's gzip do: the
/// client must accept gzip (q-values honoured), the type must be on the list, the body must
/// not be encoded already, small or `no-transform` responses are left alone.
enum CompressionDecision {
    /// The q-value `acceptEncoding` gives `coding` (`x-gzip` counts as `gzip`): its own entry
    /// wins over `*` (which counts only with `wildcard`); 0 when neither is listed. A malformed
    /// q-value counts as 0. `coding` must be lower-case. Runs once or twice per response, so it
    /// reads the bytes in place instead of splitting and lower-casing copies.
    static func quality(of coding: String, in acceptEncoding: String?, wildcard: Bool = true) -> Double {
        guard let acceptEncoding else { return 0 }
        var own: Double?
        var any: Double?
        let aliasGzip = coding == "gzip"
        for item in acceptEncoding.utf8.split(separator: UInt8(ascii: ",")) {
            var parameters = item.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false)[...]
            guard let first = parameters.popFirst() else { continue }
            let name = first.trimmingASCIIWhitespace()
            let isOwn = ASCII.equalsIgnoringCase(name, coding.utf8) || (aliasGzip && ASCII.equalsIgnoringCase(name, "x-gzip".utf8))
            guard isOwn || (wildcard && name.elementsEqual("*".utf8)) else { continue }
            var quality = 1.0
            for parameter in parameters {
                let pair = parameter.trimmingASCIIWhitespace()
                guard pair.count >= 2, ASCII.equalsIgnoringCase(pair.prefix(2), "q=".utf8) else { continue }
                quality = min(max(Double(String(decoding: pair.dropFirst(2), as: UTF8.self)) ?? 0, 0), 1)
            }
            if isOwn { own = max(own ?? 0, quality) } else { any = quality }
        }
        return own ?? any ?? 0
    }

    /// True when `acceptEncoding` allows gzip (`gzip`, `x-gzip` or `*` with q > 0; an explicit
    /// `gzip;q=0` refuses it even when `*` is allowed).
    static func acceptsGzip(_ acceptEncoding: String?) -> Bool {
        quality(of: "gzip", in: acceptEncoding) > 0
    }

    /// True when brotli is named (as Apache's and nginx's brotli modules require; `*` is not
    /// enough) and not ranked below gzip (`br;q=0.1, gzip` prefers gzip).
    static func prefersBrotli(_ acceptEncoding: String?) -> Bool {
        let brotli = quality(of: "br", in: acceptEncoding, wildcard: false)
        return brotli > 0 && brotli >= quality(of: "gzip", in: acceptEncoding)
    }

    /// The coding to use: brotli when accepted (and enabled) at least as much as gzip, else gzip
    /// when accepted.
    /// An `identity` the client lists with a higher q-value than the chosen coding's wins
    /// (`identity, gzip;q=0.5` gets the body as it is).
    static func coding(_ acceptEncoding: String?, settings: EdgeSettings) -> String? {
        guard let acceptEncoding else { return nil }
        let chosen: String
        if settings.brotli, prefersBrotli(acceptEncoding) {
            chosen = "br"
        } else if acceptsGzip(acceptEncoding) {
            chosen = "gzip"
        } else {
            return nil
        }
        return identityOutranks(chosen, in: acceptEncoding) ? nil : chosen
    }

    /// True when the client names `identity` with a higher q-value than `coding`.
    static func identityOutranks(_ coding: String, in acceptEncoding: String?) -> Bool {
        // Browsers never name identity: look for its `y` before parsing the field again.
        guard let acceptEncoding, acceptEncoding.utf8.contains(where: { $0 | 0x20 == UInt8(ascii: "y") }) else { return false }
        return quality(of: "identity", in: acceptEncoding, wildcard: false) > quality(of: coding, in: acceptEncoding)
    }

    /// The coding to compress this response with (nil: send it as it is), and whether it gets
    /// `Vary: Accept-Encoding`: every response of a compressible type does, compressed or not,
    /// so caches keep the two versions apart.
    static func decide(status: HTTPResponseStatus, method: HTTPMethod, headers: HTTPHeaders,
                       acceptEncoding: String?, settings: EdgeSettings) -> (coding: String?, vary: Bool) {
        guard settings.compression else { return (nil, false) }
        // One pass over the fields, comparing bytes in place: this runs for every response.
        var contentType: String?
        var contentEncoding: String?
        var contentLength: String?
        var noTransform = false
        var hasRange = false
        for header in headers {
            let name = header.name
            switch name.utf8.count {
            case 12 where ASCII.equalsIgnoringCase(name, "content-type"):
                if contentType == nil { contentType = header.value }
            case 16 where ASCII.equalsIgnoringCase(name, "content-encoding"):
                if contentEncoding == nil { contentEncoding = header.value }
            case 14 where ASCII.equalsIgnoringCase(name, "content-length"):
                if contentLength == nil { contentLength = header.value }
            case 13 where ASCII.equalsIgnoringCase(name, "content-range"):
                hasRange = true
            case 13 where ASCII.equalsIgnoringCase(name, "cache-control"):
                noTransform = noTransform || header.value.utf8.split(separator: UInt8(ascii: ",")).contains {
                    ASCII.equalsIgnoringCase($0.trimmingASCIIWhitespace(), "no-transform".utf8)
                }
            default:
                break
            }
        }
        guard let contentType, settings.compressTypes.contains(MediaTypes.essence(contentType)) else {
            return (nil, false)
        }
        let encoded = contentEncoding.map { !ASCII.equalsIgnoringCase(Substring($0).utf8.trimmingASCIIWhitespace(), "identity".utf8) }
        // HEAD is decided like GET, so its fields (encoding, validators, length) match GET's.
        guard status.code >= 200, status != .noContent, status != .notModified, encoded != true, !noTransform, !hasRange
        else { return (nil, true) }
        if let length = contentLength.flatMap({ Int($0) }), length < settings.compressionMinBytes {
            return (nil, true)
        }
        return (coding(acceptEncoding, settings: settings), true)
    }

    /// Headers of a response that is about to be compressed: length dropped (the body is
    /// re-framed), encoding set, strong ETag weakened, and no `Accept-Ranges` (ranges of the
    /// compressed form cannot be asked for).
    static func compressedHeaders(_ headers: inout HTTPHeaders, coding: String) {
        headers.remove(name: "content-length")
        headers.remove(name: "accept-ranges")
        headers.replaceOrAdd(name: "Content-Encoding", value: coding)
        if let etag = headers.first(name: "etag"), !etag.hasPrefix("W/") {
            headers.replaceOrAdd(name: "ETag", value: "W/" + etag)
        }
    }

    /// Adds `Accept-Encoding` to `Vary` unless it is there already.
    static func addVary(_ headers: inout HTTPHeaders) {
        var present = false
        for header in headers where header.name.utf8.count == 4 && ASCII.equalsIgnoringCase(header.name, "vary") {
            present = true
            let named = header.value.utf8.split(separator: UInt8(ascii: ",")).contains { item in
                let token = item.trimmingASCIIWhitespace()
                return ASCII.equalsIgnoringCase(token, "accept-encoding".utf8) || token.elementsEqual("*".utf8)
            }
            if named { return }
        }
        if !present {
            headers.add(name: "Vary", value: "Accept-Encoding")
        } else {
            headers.replaceOrAdd(name: "Vary", value: headers[canonicalForm: "vary"].joined(separator: ", ") + ", Accept-Encoding")
        }
    }
}

/// A compressed stream over one response body: compressed as it streams, flushed at each
/// network flush so server-sent events still arrive one by one.
protocol BodyCompressor: AnyObject {
    /// Input went in since the last sync flush.
    var hasPending: Bool { get }
    func compress(_ input: ByteBuffer, sync: Bool, allocator: ByteBufferAllocator) throws -> ByteBuffer
    func finish(allocator: ByteBufferAllocator) throws -> ByteBuffer
}

/// Makes the compressor for a coding the client accepts, at the configured level.
enum BodyCompressors {
    /// A streaming compressor for `coding` (`br` or `gzip`). `bodyLength`: the body's length when
    /// known; a gzip body short enough is gathered and compressed at its end (`GatheredGzip`).
    static func make(coding: String, gzipLevel: Int, brotliLevel: Int, bodyLength: Int? = nil) throws -> any BodyCompressor {
        if coding == "br" { return try BrotliStream(level: brotliLevel) }
        if let bodyLength, bodyLength <= WholeBodyGzip.gatherLimit { return GatheredGzip(level: gzipLevel) }
        return try GzipStream(level: gzipLevel)
    }

    /// A whole body compressed in one go, held in a buffer of exactly its size.
    static func compressWhole(_ body: ByteBuffer, coding: String, gzipLevel: Int, brotliLevel: Int,
                              allocator: ByteBufferAllocator) throws -> ByteBuffer {
        if coding == "gzip", var compressed = WholeBodyGzip.compress(body, level: gzipLevel, allocator: allocator) {
            var exact = allocator.buffer(capacity: compressed.readableBytes)
            exact.writeBuffer(&compressed)
            return exact
        }
        let compressor = try make(coding: coding, gzipLevel: gzipLevel, brotliLevel: brotliLevel)
        var compressed = try compressor.compress(body, sync: false, allocator: allocator)
        var tail = try compressor.finish(allocator: allocator)
        var exact = allocator.buffer(capacity: compressed.readableBytes + tail.readableBytes)
        exact.writeBuffer(&compressed)
        exact.writeBuffer(&tail)
        return exact
    }
}

/// gzip through zlib.
final class GzipStream: BodyCompressor {
    private let compressor: ZlibCompressor
    /// Input went in since the last sync flush.
    private(set) var hasPending = false

    init(level: Int) throws {
        compressor = try ZlibCompressor(algorithm: .gzip,
                                        configuration: ZlibConfiguration(compressionLevel: Int32(level)))
    }

    /// Compresses `input`; with `sync`, everything so far is emitted.
    func compress(_ input: ByteBuffer, sync: Bool, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        var input = input
        hasPending = !sync
        var output = allocator.buffer(capacity: max(compressor.maxSize(from: input), 64))
        repeat {
            if output.writableBytes < 64 { output.reserveCapacity(minimumWritableBytes: max(output.capacity, 1024)) }
            try compressor.deflate(from: &input, to: &output, flush: sync ? .sync : .no)
        } while input.readableBytes > 0
        return output
    }

    /// Ends the stream and returns its last bytes (the gzip trailer).
    func finish(allocator: ByteBufferAllocator) throws -> ByteBuffer {
        var input = allocator.buffer(capacity: 16)
        var output = allocator.buffer(capacity: 1024)
        while true {
            do {
                try compressor.deflate(from: &input, to: &output, flush: .finish)
                return output
            } catch let error as CompressNIOError where error == .bufferOverflow {
                output.reserveCapacity(minimumWritableBytes: output.capacity)
            }
        }
    }
}

/// brotli through Debian's libbrotlienc, streaming.
final class BrotliStream: BodyCompressor {
    private let state: OpaquePointer
    private(set) var hasPending = false

    init(level: Int) throws {
        guard let state = BrotliEncoderCreateInstance(nil, nil, nil) else { throw CompressNIOError.noMoreMemory }
        self.state = state
        _ = BrotliEncoderSetParameter(state, BROTLI_PARAM_QUALITY, UInt32(level))
        _ = BrotliEncoderSetParameter(state, BROTLI_PARAM_MODE, UInt32(BROTLI_MODE_TEXT.rawValue))
    }

    deinit {
        BrotliEncoderDestroyInstance(state)
    }

    func compress(_ input: ByteBuffer, sync: Bool, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        hasPending = !sync
        return try run(input, operation: sync ? BROTLI_OPERATION_FLUSH : BROTLI_OPERATION_PROCESS, allocator: allocator)
    }

    func finish(allocator: ByteBufferAllocator) throws -> ByteBuffer {
        try run(allocator.buffer(capacity: 0), operation: BROTLI_OPERATION_FINISH, allocator: allocator)
    }

    /// Feeds `input` and collects output until the encoder has nothing more to say for `operation`.
    private func run(_ input: ByteBuffer, operation: BrotliEncoderOperation,
                     allocator: ByteBufferAllocator) throws -> ByteBuffer {
        var output = allocator.buffer(capacity: max(input.readableBytes / 2, 256))
        var scratch = [UInt8](repeating: 0, count: 16 * 1024)
        var bytes = Array(input.readableBytesView)
        var availableIn = bytes.count
        var consumed = 0
        while true {
            var availableOut = scratch.count
            let succeeded = bytes.withUnsafeMutableBufferPointer { inputBuffer -> Bool in
                scratch.withUnsafeMutableBufferPointer { outputBuffer -> Bool in
                    var nextIn = UnsafePointer<UInt8>(inputBuffer.baseAddress.map { $0 + consumed })
                    var nextOut = outputBuffer.baseAddress
                    let before = availableIn
                    let ok = BrotliEncoderCompressStream(state, operation, &availableIn, &nextIn, &availableOut, &nextOut, nil)
                    consumed += before - availableIn
                    return ok != 0
                }
            }
            guard succeeded else { throw CompressNIOError.internalError }
            output.writeBytes(scratch[0..<(scratch.count - availableOut)])
            let finished = operation == BROTLI_OPERATION_FINISH ? BrotliEncoderIsFinished(state) != 0 : true
            if availableIn == 0 && BrotliEncoderHasMoreOutput(state) == 0 && finished { break }
        }
        bytes.removeAll()
        return output
    }
}
