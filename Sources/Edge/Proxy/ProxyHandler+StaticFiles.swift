import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PortalCore

/// Static files (Apache serving `/static` itself): looked up on the thread pool, answered with
/// validators, ranges and cache lifetimes, and sent with `sendfile` on plain connections or read
/// in chunks with backpressure on TLS ones.
extension ProxyHandler {
    func serveStatic(_ exchange: Exchange, root: StaticRoot, route: Route, facts: RequestFacts) {
        guard let context else { return }
        guard exchange.head.method == .GET || exchange.head.method == .HEAD else {
            var headers = HTTPHeaders()
            headers.add(name: "Allow", value: "GET, HEAD")
            respondLocally(exchange, status: .methodNotAllowed, extraHeaders: headers, close: facts.hasBody)
            return
        }
        let acceptsGzip = CompressionDecision.acceptsGzip(facts.acceptEncoding)
            && !CompressionDecision.identityOutranks("gzip", in: facts.acceptEncoding)
        // A `.br` sibling only when the client does not rank gzip (or identity) above brotli.
        let acceptsBrotli = CompressionDecision.prefersBrotli(facts.acceptEncoding)
            && !CompressionDecision.identityOutranks("br", in: facts.acceptEncoding)
        let targetPath = exchange.target.prefix { $0 != "?" }
        // A folder's index (asked for with the slash) and a file are kept apart.
        let trailingSlash = targetPath.hasSuffix("/")
        // Entries are kept under the target as received, so a hit needs no second resolution; a
        // target that `StaticPath` refuses never gets an entry, as only resolved lookups are stored.
        let key = OpenFileCache.key(root: root, route: route.path, target: targetPath,
                                    acceptsGzip: acceptsGzip, acceptsBrotli: acceptsBrotli)
        if let cached = fileCache.lookup(key) {
            exchange.openFile = cached.file
            sendFile(exchange, file: cached, key: key)
            return
        }
        let segments: [String]
        switch StaticPath.resolve(uri: exchange.target, prefix: route.path) {
        case .segments(let found): segments = found
        case .malformed:
            respondLocally(exchange, status: .badRequest, close: false)
            return
        case .refused:
            logger.info("static path refused", metadata: ["uri": "\(exchange.head.uri)", "client": "\(exchange.clientAddress)"])
            respondLocally(exchange, status: .notFound, close: false)
            return
        }
        let eventLoop = context.eventLoop
        let requestPath = String(targetPath).removingPercentEncoding ?? String(targetPath)
        NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) {
            StaticFileLookup.lookup(root: root, segments: segments, trailingSlash: trailingSlash,
                                    acceptsGzip: acceptsGzip, acceptsBrotli: acceptsBrotli, requestPath: requestPath)
        }.assumeIsolated().whenComplete { [weak self] result in
            guard let self else {
                if case .success(.file(let found)) = result { try? found.handle.close() }
                return
            }
            guard self.exchange === exchange else {
                if case .success(.file(let found)) = result { try? found.handle.close() }
                return
            }
            switch result {
            case .success(.file(let found)):
                let shared = SharedFile(found.handle)
                self.fileCache.store(key, found: found, file: shared)
                guard let entry = self.fileCache.lookup(key) else { return }
                exchange.openFile = shared
                self.sendFile(exchange, file: entry, key: key)
            case .success(.listing(let html)):
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "text/html; charset=utf-8")
                headers.add(name: "Cache-Control", value: "no-cache")
                self.respondLocally(exchange, status: .ok, extraHeaders: headers, body: html, close: false)
            case .success(.addSlash):
                // As Apache's mod_dir and nginx do: the directory's own name, query kept.
                let query = exchange.target.drop { $0 != "?" }
                var headers = HTTPHeaders()
                headers.add(name: "Location", value: "\(targetPath)/\(query)")
                self.respondLocally(exchange, status: .movedPermanently, extraHeaders: headers, close: false)
            case .success(.forbidden):
                self.respondLocally(exchange, status: .forbidden, close: false)
            case .success(.notFound):
                self.respondLocally(exchange, status: .notFound, close: false)
            case .failure(let error):
                self.logger.error("static file lookup failed", metadata: ["error": "\(error)"])
                self.respondLocally(exchange, status: .internalServerError, close: false)
            }
        }
    }

    private func sendFile(_ exchange: Exchange, file cached: OpenFileCache.Entry, key: String) {
        guard let context else { return }
        // The file may have been rewritten in place since it was looked up: the open descriptor
        // tells its current size and time, so the validators always describe the bytes sent,
        // and what the entry holds of an older version is not used.
        let current = (try? cached.file.handle.withUnsafeFileDescriptor { FileInfo(descriptor: $0) }) ?? nil
        var found = cached
        if let current, current.size != cached.size || current.modifiedNanoseconds != cached.modifiedNanoseconds {
            found = OpenFileCache.Entry(
                file: cached.file, size: current.size, modified: current.modified,
                modifiedNanoseconds: current.modifiedNanoseconds, contentType: cached.contentType,
                encoding: cached.encoding, varies: cached.varies, expires: cached.expires)
            fileCache.forget(key)
        }
        var etag = found.etag
        // A text file without a precompressed sibling is compressed on the way, as mod_deflate
        // and nginx's gzip do; ranges are served from the file as it is.
        let compressible = settings.compression && found.encoding == nil
            && settings.compressTypes.contains(MediaTypes.essence(found.contentType))
        var coding: String?
        if compressible, found.size >= settings.compressionMinBytes, !exchange.head.headers.contains(name: "range") {
            coding = CompressionDecision.coding(exchange.facts?.acceptEncoding, settings: settings)
        }
        // Each coding is its own representation, with its own validator.
        if let coding { etag = "W/" + etag.dropLast() + "-\(coding)\"" }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: found.contentType)
        headers.add(name: "ETag", value: etag)
        headers.add(name: "Last-Modified", value: found.lastModified)
        if coding == nil { headers.add(name: "Accept-Ranges", value: "bytes") }
        if let encoding = found.encoding ?? coding { headers.add(name: "Content-Encoding", value: encoding) }
        if found.varies || found.encoding != nil || compressible { headers.add(name: "Vary", value: "Accept-Encoding") }
        if let lifetime = settings.expires[MediaTypes.essence(found.contentType)] {
            headers.add(name: "Cache-Control", value: "max-age=\(lifetime)")
            headers.add(name: "Expires", value: HTTPDate.format(Int(time(nil)) + lifetime))
        }
        let status: HTTPResponseStatus
        var range = 0...max(found.size - 1, 0)
        var length = found.size
        switch ConditionalRequest.evaluate(headers: exchange.head.headers, etag: etag, lastModified: found.modified,
                                           size: found.size) {
        case .notModified:
            exchange.closeFile()
            headers.remove(name: "Content-Type")
            headers.remove(name: "Accept-Ranges")
            writeStaticHead(exchange, status: .notModified, headers: headers)
            finishExchange(exchange, trailers: nil)
            return
        case .preconditionFailed:
            exchange.closeFile()
            respondLocally(exchange, status: .preconditionFailed, close: false)
            return
        case .unsatisfiable:
            exchange.closeFile()
            var extra = HTTPHeaders()
            extra.add(name: "Content-Range", value: "bytes */\(found.size)")
            respondLocally(exchange, status: .rangeNotSatisfiable, extraHeaders: extra, close: false)
            return
        case .partial(let requested):
            status = .partialContent
            range = requested
            length = requested.count
            headers.add(name: "Content-Range", value: "bytes \(requested.lowerBound)-\(requested.upperBound)/\(found.size)")
        case .full:
            if let coding {
                if found.size <= Self.staticCompressionMaxBytes {
                    sendCompressedFile(exchange, entry: found, coding: coding, headers: headers, key: key)
                } else {
                    streamCompressedFile(exchange, entry: found, coding: coding, headers: headers)
                }
                return
            }
            status = .ok
        }
        headers.add(name: "Content-Length", value: String(length))
        writeStaticHead(exchange, status: status, headers: headers)
        if exchange.head.method == .HEAD || length == 0 {
            finishExchange(exchange, trailers: nil)
            return
        }
        exchange.bytesSent = length
        if !listener.tls {
            // Zero copy: the kernel sends the file (sendfile) without it passing through user space.
            let region = FileRegion(fileHandle: found.file.handle, readerIndex: range.lowerBound, endIndex: range.upperBound + 1)
            context.write(wrapOutboundOut(.body(.fileRegion(region))), promise: nil)
            finishExchange(exchange, trailers: nil)
            return
        }
        let eventLoop = context.eventLoop
        // A small file read before within the cache entry's second is sent from memory.
        if let content = found.content, content.readableBytes == found.size,
           let slice = content.getSlice(at: range.lowerBound, length: length) {
            exchange.staticBytesWritten += slice.readableBytes
            context.write(wrapOutboundOut(.body(.byteBuffer(slice))), promise: nil)
            finishExchange(exchange, trailers: nil)
            return
        }
        let sending: EventLoopFuture<Void>
        if found.size <= Self.staticChunkBytes {
            // Small: read whole in one trip, keep it for the next clients, send the part asked for.
            let file = found.file
            let size = found.size
            let version = found.modifiedNanoseconds
            let allocator = context.channel.allocator
            sending = NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) {
                try file.read(at: 0, count: size, allocator: allocator)
            }.assumeIsolated().flatMap { content -> EventLoopFuture<Void> in
                guard content.readableBytes == size, let slice = content.getSlice(at: range.lowerBound, length: length) else {
                    return eventLoop.makeSucceededVoidFuture()
                }
                self.fileCache.remember(content: content, for: key, modifiedNanoseconds: version)
                return self.writeStaticChunk(slice, exchange: exchange, eventLoop: eventLoop)
            }.nonisolated()
        } else {
            sending = streamFile(found.file, from: range.lowerBound, remaining: length, exchange: exchange,
                                 allocator: context.channel.allocator, eventLoop: eventLoop)
        }
        sending.assumeIsolated().whenComplete { [weak self] result in
            guard let self, self.exchange === exchange else { return }
            switch result {
            case .success where exchange.staticBytesWritten < length:
                // The file shrank while it was read: the promised length cannot be kept.
                self.logger.error("static file shorter than announced", metadata: ["uri": "\(exchange.head.uri)"])
                self.context?.close(promise: nil)
            case .success:
                self.finishExchange(exchange, trailers: nil)
            case .failure(let error):
                self.logger.error("static file read failed", metadata: ["error": "\(error)"])
                self.context?.close(promise: nil)
            }
        }
    }

    /// Largest file compressed whole (on the thread pool) and kept for the next clients; larger
    /// ones are compressed as they stream.
    static let staticCompressionMaxBytes = 1024 * 1024

    /// Bytes of a large file read and compressed per step: small enough that compressing one
    /// step holds the event loop about a millisecond, as a proxied body's read does.
    static let streamedCompressionChunkBytes = 64 * 1024

    /// Sends a file too large to keep compressed: read in chunks on the thread pool, each
    /// compressed and written before the next is read (a slow client holds back the reading),
    /// framed by chunked encoding (or the connection's end for HTTP/1.0).
    private func streamCompressedFile(_ exchange: Exchange, entry: OpenFileCache.Entry, coding: String,
                                      headers: HTTPHeaders) {
        guard let context else { return }
        let compressor: any BodyCompressor
        do {
            compressor = try BodyCompressors.make(coding: coding, gzipLevel: settings.compressionLevel,
                                                  brotliLevel: settings.brotliLevel)
        } catch {
            logger.error("static file compression failed", metadata: ["error": "\(error)"])
            respondLocally(exchange, status: .internalServerError, close: false)
            return
        }
        // Without a length, an HTTP/1.0 client learns the end from the connection closing.
        if !http2 && exchange.head.version.minor == 0 { exchange.keepAlive = false }
        writeStaticHead(exchange, status: .ok, headers: headers)
        guard exchange.head.method != .HEAD else {
            exchange.closeFile()
            finishExchange(exchange, trailers: nil)
            return
        }
        let allocator = context.channel.allocator
        let eventLoop = context.eventLoop
        let size = entry.size
        streamCompressed(entry.file, from: 0, remaining: size, compressor: compressor, exchange: exchange,
                         allocator: allocator, eventLoop: eventLoop)
            .assumeIsolated().flatMapThrowing { read -> ByteBuffer in
                guard read == size else { throw StaticFileShrank() }
                return try compressor.finish(allocator: allocator)
            }.flatMap { tail -> EventLoopFuture<Void> in
                guard tail.readableBytes > 0 else { return eventLoop.makeSucceededVoidFuture() }
                exchange.bytesSent += tail.readableBytes
                return self.writeStaticChunk(tail, exchange: exchange, eventLoop: eventLoop)
            }.whenComplete { [weak self] result in
                guard let self, self.exchange === exchange else { return }
                switch result {
                case .success:
                    self.finishExchange(exchange, trailers: nil)
                case .failure(let error):
                    self.logger.error("static file compression failed", metadata: ["uri": "\(exchange.head.uri)",
                                                                                    "error": "\(error)"])
                    self.context?.close(promise: nil)
                }
            }
    }

    /// Reads, compresses and writes `remaining` bytes of `file` from `offset`, one chunk at a
    /// time; succeeds with the number of bytes read (fewer if the file shrank meanwhile).
    private func streamCompressed(_ file: SharedFile, from offset: Int, remaining: Int, compressor: any BodyCompressor,
                                  exchange: Exchange, allocator: ByteBufferAllocator,
                                  eventLoop: any EventLoop) -> EventLoopFuture<Int> {
        guard remaining > 0 else { return eventLoop.makeSucceededFuture(offset) }
        let size = min(Self.streamedCompressionChunkBytes, remaining)
        return NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) {
            try file.read(at: offset, count: size, allocator: allocator)
        }.assumeIsolated().flatMap { chunk -> EventLoopFuture<Int> in
            guard chunk.readableBytes > 0 else { return eventLoop.makeSucceededFuture(offset) }
            let read = chunk.readableBytes
            let next = {
                self.streamCompressed(file, from: offset + read, remaining: remaining - read, compressor: compressor,
                                      exchange: exchange, allocator: allocator, eventLoop: eventLoop)
            }
            let compressed: ByteBuffer
            do {
                compressed = try compressor.compress(chunk, sync: false, allocator: allocator)
            } catch {
                return eventLoop.makeFailedFuture(error)
            }
            guard compressed.readableBytes > 0 else { return next() }
            exchange.bytesSent += compressed.readableBytes
            return self.writeStaticChunk(compressed, exchange: exchange, eventLoop: eventLoop).assumeIsolated()
                .flatMap { next() }.nonisolated()
        }.nonisolated()
    }

    /// Sends a file compressed with `coding`: read and compressed whole on the thread pool,
    /// kept with the open-file entry for the next clients of that second.
    private func sendCompressedFile(_ exchange: Exchange, entry: OpenFileCache.Entry, coding: String,
                                    headers: HTTPHeaders, key: String) {
        guard let context else { return }
        let finish: (ByteBuffer) -> Void = { [weak self] body in
            guard let self, self.exchange === exchange else { return }
            var headers = headers
            headers.add(name: "Content-Length", value: String(body.readableBytes))
            self.writeStaticHead(exchange, status: .ok, headers: headers)
            exchange.closeFile()
            if exchange.head.method != .HEAD {
                exchange.bytesSent = body.readableBytes
                self.context?.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            }
            self.finishExchange(exchange, trailers: nil)
        }
        if let compressed = entry.compressed, entry.compressedCoding == coding {
            finish(compressed)
            return
        }
        // Clients asking for the same version while it is being compressed wait for that result.
        let tag = "\(key)|\(coding)|\(entry.size)|\(entry.modifiedNanoseconds)"
        let delivered: (Result<ByteBuffer, any Error>) -> Void = { [weak self] result in
            guard let self, self.exchange === exchange else { return }
            switch result {
            case .success(let body):
                finish(body)
            case .failure(let error):
                self.logger.error("static file compression failed", metadata: ["error": "\(error)"])
                self.respondLocally(exchange, status: .internalServerError, close: false)
            }
        }
        guard fileCache.joinCompression(tag, waiter: delivered) else { return }
        let file = entry.file
        let size = entry.size
        let version = entry.modifiedNanoseconds
        let content = entry.content
        let allocator = context.channel.allocator
        let gzipLevel = settings.compressionLevel
        let brotliLevel = settings.brotliLevel
        let fileCache = self.fileCache
        NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) { () throws -> ByteBuffer in
            let whole = try content ?? file.read(at: 0, count: size, allocator: allocator)
            // Kept for a second: exactly the compressed bytes, not an input-sized buffer.
            return try BodyCompressors.compressWhole(whole, coding: coding, gzipLevel: gzipLevel,
                                                     brotliLevel: brotliLevel, allocator: allocator)
        }.assumeIsolated().whenComplete { result in
            if case .success(let body) = result {
                fileCache.remember(compressed: body, coding: coding, for: key, size: size, modifiedNanoseconds: version)
            }
            fileCache.finishCompression(tag, result: result)
        }
    }

    private func writeStaticHead(_ exchange: Exchange, status: HTTPResponseStatus, headers: HTTPHeaders) {
        guard context != nil else { return }
        var headers = headers
        exchange.responseStarted = true
        exchange.responseEnded = true
        exchange.answeredLocally = true
        exchange.status = status.code
        addConnectionField(&headers, exchange: exchange)
        headers.add(name: "Date", value: httpDate())
        headerPolicy(exchange).apply(to: &headers)
        writeHead(status: status, headers: headers, exchange: exchange)
    }

    /// Bytes read per trip to the thread pool for files sent over TLS: a 100 KiB file takes one
    /// trip instead of two (each trip is two thread switches on a busy core).
    static let staticChunkBytes = 256 * 1024

    /// The same over HTTP/2, where one connection carries up to `http2_max_concurrent_streams`
    /// files at once: a client that stops reading (a zero flow-control window) holds at most
    /// this much per stream, as Apache's `H2StreamMaxMemSize` does.
    static let http2ChunkBytes = 64 * 1024

    /// Sends `remaining` bytes of `file` from `offset` in chunks read on the thread pool,
    /// each read waiting until the chunk before it is written, so a slow client holds back the
    /// reading. Ends early (without error) if the file is shorter than expected.
    private func streamFile(_ file: SharedFile, from offset: Int, remaining: Int, exchange: Exchange,
                            allocator: ByteBufferAllocator, eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        guard remaining > 0 else { return eventLoop.makeSucceededVoidFuture() }
        let size = min(http2 ? Self.http2ChunkBytes : Self.staticChunkBytes, remaining)
        return NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) {
            try file.read(at: offset, count: size, allocator: allocator)
        }.assumeIsolated().flatMap { chunk -> EventLoopFuture<Void> in
            guard chunk.readableBytes > 0 else { return eventLoop.makeSucceededVoidFuture() }
            let read = chunk.readableBytes
            return self.writeStaticChunk(chunk, exchange: exchange, eventLoop: eventLoop).assumeIsolated().flatMap {
                self.streamFile(file, from: offset + read, remaining: remaining - read, exchange: exchange,
                                allocator: allocator, eventLoop: eventLoop)
            }.nonisolated()
        }.nonisolated()
    }

    /// Writes one chunk of a file; the returned future completes when it is written, so reading
    /// waits for a slow client.
    func writeStaticChunk(_ chunk: ByteBuffer, exchange: Exchange, eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        guard let context, self.exchange === exchange else {
            return eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
        }
        exchange.staticBytesWritten += chunk.readableBytes
        return context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(chunk))))
    }
}

/// A file being sent got shorter than it was when its response began.
struct StaticFileShrank: Error, CustomStringConvertible {
    var description: String { "the file got shorter while it was being sent" }
}
