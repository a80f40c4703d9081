import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// An open file that several responses may send at once (sendfile and chunked reads use
/// explicit offsets); closed when the last response and the cache have let go of it.
final class SharedFile: Sendable {
    let handle: NIOFileHandle
    /// The handle's descriptor, for positional reads from several threads at once: NIO's own
    /// reads take the handle exclusively, so two responses reading one file would collide. It
    /// stays open as long as this object lives.
    private let descriptor: CInt

    init(_ handle: NIOFileHandle) {
        self.handle = handle
        self.descriptor = (try? handle.withUnsafeFileDescriptor { $0 }) ?? -1
    }

    /// Reads up to `count` bytes at `offset` (fewer only at the end of the file). Blocking: call
    /// it on the thread pool, holding `self` so the descriptor cannot close meanwhile.
    func read(at offset: Int, count: Int, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        guard descriptor >= 0 else { throw IOError(errnoCode: EBADF, reason: "pread: the file is not open") }
        var buffer = allocator.buffer(capacity: count)
        var done = 0
        while done < count {
            var failure: CInt = 0
            let result = buffer.withUnsafeMutableWritableBytes { pointer -> Int in
                let read = pread(descriptor, pointer.baseAddress, min(pointer.count, count - done), off_t(offset + done))
                if read < 0 { failure = errno }
                return read
            }
            if result < 0 {
                if failure == EINTR { continue }
                throw IOError(errnoCode: failure, reason: "pread")
            }
            if result == 0 { break }
            buffer.moveWriterIndex(forwardBy: result)
            done += result
        }
        return buffer
    }

    deinit {
        try? handle.close()
    }
}

/// Recently looked-up files of one event loop (nginx's `open_file_cache`): a hit answers without
/// the trip to the thread pool. Entries live one second, so a changed file is seen within a
/// second. Used only on its loop.
final class OpenFileCache {
    /// A file ready to send, with what its headers need.
    struct Entry {
        let file: SharedFile
        let size: Int
        let modified: Int
        /// The version the entry describes (with `size`): content and compressed forms are
        /// used only while the file on disk is still this version.
        let modifiedNanoseconds: Int
        let contentType: String
        let encoding: String?
        let varies: Bool
        let expires: NIODeadline
        /// The validators of this version, formatted once rather than per response.
        let etag: String
        let lastModified: String
        /// The whole file, once read for a TLS or HTTP/2 client (small files only), so the next
        /// ones within the entry's second need no trip to the thread pool.
        var content: ByteBuffer?
        /// The file compressed for clients that accept `compressedCoding`, once made.
        var compressed: ByteBuffer?
        var compressedCoding: String?

        /// Bytes this entry holds in memory.
        var heldBytes: Int { (content?.readableBytes ?? 0) + (compressed?.readableBytes ?? 0) }

        init(file: SharedFile, size: Int, modified: Int, modifiedNanoseconds: Int, contentType: String,
             encoding: String?, varies: Bool, expires: NIODeadline) {
            self.file = file
            self.size = size
            self.modified = modified
            self.modifiedNanoseconds = modifiedNanoseconds
            self.contentType = contentType
            self.encoding = encoding
            self.varies = varies
            self.expires = expires
            etag = ConditionalRequest.entityTag(size: size, modifiedNanoseconds: modifiedNanoseconds, encoding: encoding)
            lastModified = HTTPDate.format(modified)
        }
    }

    private var entries: [String: Entry] = [:]
    /// Compressions running on the thread pool, with the clients waiting for each.
    private var compressionsUnderWay: [String: [(Result<ByteBuffer, any Error>) -> Void]] = [:]
    /// Bytes of file content held by the entries.
    private var contentBytes = 0
    /// Most file content held per event loop.
    static let contentBudget = 32 * 1024 * 1024
    private static let lifetime = TimeAmount.seconds(1)
    /// Files held open per event loop at most (well below the process's descriptor limit).
    private static let capacity = 256

    /// The entry name of a file request: the document root, the route's path, the target's path
    /// as received (query left out), and the compressed siblings the client may take. The parts
    /// are joined with NUL, which no path and no request target holds, so no two requests share a
    /// name unless they ask for the same thing.
    static func key(root: StaticRoot, route: String, target: Substring, acceptsGzip: Bool, acceptsBrotli: Bool) -> String {
        var key = root.path
        key.reserveCapacity(root.path.utf8.count + route.utf8.count + target.utf8.count + 6)
        key += "\0"
        key += route
        key += "\0"
        key += target
        key += acceptsGzip ? (acceptsBrotli ? "\0gb" : "\0g") : (acceptsBrotli ? "\0b" : "\0")
        return key
    }

    func lookup(_ key: String, now: NIODeadline = .now()) -> Entry? {
        guard let entry = entries[key] else { return nil }
        if entry.expires <= now {
            contentBytes -= entry.heldBytes
            entries[key] = nil
            return nil
        }
        return entry
    }

    /// Keeps `content` (the whole file, read at version `modifiedNanoseconds`) with the entry under
    /// `key`, within the loop's budget.
    func remember(content: ByteBuffer, for key: String, modifiedNanoseconds: Int) {
        guard var entry = entries[key], entry.content == nil, content.readableBytes == entry.size,
              entry.modifiedNanoseconds == modifiedNanoseconds,
              contentBytes + content.readableBytes <= Self.contentBudget else { return }
        entry.content = content
        contentBytes += content.readableBytes
        entries[key] = entry
    }

    /// Registers `waiter` for the compressed form of one version of a file (`tag`). True when the
    /// caller must start the compression; false when one is already under way, whose result
    /// `waiter` will receive too, so a burst of first requests compresses the file once.
    func joinCompression(_ tag: String, waiter: @escaping (Result<ByteBuffer, any Error>) -> Void) -> Bool {
        if var waiters = compressionsUnderWay.removeValue(forKey: tag) {
            waiters.append(waiter)
            compressionsUnderWay[tag] = waiters
            return false
        }
        compressionsUnderWay[tag] = [waiter]
        return true
    }

    /// Hands the result of the compression `tag` to everyone waiting for it.
    func finishCompression(_ tag: String, result: Result<ByteBuffer, any Error>) {
        for waiter in compressionsUnderWay.removeValue(forKey: tag) ?? [] {
            waiter(result)
        }
    }

    /// Keeps the compressed form of the file under `key`, within the loop's budget, when the
    /// entry is still the version (`size`, `modifiedNanoseconds`) that was compressed.
    func remember(compressed: ByteBuffer, coding: String, for key: String, size: Int, modifiedNanoseconds: Int) {
        guard var entry = entries[key], entry.compressed == nil, entry.size == size,
              entry.modifiedNanoseconds == modifiedNanoseconds,
              contentBytes + compressed.readableBytes <= Self.contentBudget else { return }
        entry.compressed = compressed
        entry.compressedCoding = coding
        contentBytes += compressed.readableBytes
        entries[key] = entry
    }

    /// Drops the entry under `key` (the file changed since it was looked up).
    func forget(_ key: String) {
        if let entry = entries.removeValue(forKey: key) { contentBytes -= entry.heldBytes }
    }

    func store(_ key: String, found: StaticFileLookup.Found, file: SharedFile) {
        if entries.count >= Self.capacity / 2 {
            let now = NIODeadline.now()
            entries = entries.filter { $0.value.expires > now }
        }
        if entries.count >= Self.capacity { entries.removeAll() }
        entries[key] = Entry(file: file, size: found.size, modified: found.modified,
                             modifiedNanoseconds: found.modifiedNanoseconds, contentType: found.contentType,
                             encoding: found.encoding, varies: found.varies, expires: .now() + Self.lifetime)
        contentBytes = entries.values.reduce(0) { $0 + $1.heldBytes }
    }
}

/// One `OpenFileCache` per event loop, created on first use on that loop.
final class OpenFileCaches: Sendable {
    private let caches = NIOLockedValueBox<[ObjectIdentifier: NIOLoopBound<OpenFileCache>]>([:])

    /// The cache of `eventLoop`; must be called on that loop.
    func cache(for eventLoop: any EventLoop) -> OpenFileCache {
        let key = ObjectIdentifier(eventLoop)
        return caches.withLockedValue { caches in
            if let existing = caches[key] { return existing.value }
            let cache = OpenFileCache()
            caches[key] = NIOLoopBound(cache, eventLoop: eventLoop)
            return cache
        }
    }
}
