import CompressNIO
import Foundation
import NIOCore

/// gzip compression of whole files, streamed in 1 MiB pieces (a database never sits in memory).
/// Blocking file I/O: call from a command, or from the thread pool inside a server.
enum GzipFile {
    static let chunkSize = 1 << 20

    static func compress(_ source: String, to destination: String) throws {
        guard let input = FileHandle(forReadingAtPath: source) else { throw BackupError("cannot read \(source)") }
        defer { try? input.close() }
        let output = try create(destination)
        defer { try? output.close() }
        let compressor = try ZlibCompressor(algorithm: .gzip, configuration: ZlibConfiguration(compressionLevel: 6))
        let allocator = ByteBufferAllocator()
        while true {
            let data = try input.read(upToCount: chunkSize) ?? Data()
            var buffer = allocator.buffer(bytes: data)
            let last = data.isEmpty
            var out = allocator.buffer(capacity: compressor.maxSize(from: buffer) + 64)
            while true {
                do {
                    try compressor.deflate(from: &buffer, to: &out, flush: last ? .finish : .no)
                    if buffer.readableBytes == 0 { break }
                } catch let error as CompressNIOError where error == .bufferOverflow {
                    try output.write(contentsOf: out.readableBytesView)
                    out.clear()
                    out.reserveCapacity(minimumWritableBytes: 1 << 16)
                }
            }
            try output.write(contentsOf: out.readableBytesView)
            if last { return }
        }
    }

    static func decompress(_ source: String, to destination: String) throws {
        guard let input = FileHandle(forReadingAtPath: source) else { throw BackupError("cannot read \(source)") }
        defer { try? input.close() }
        let output = try create(destination)
        defer { try? output.close() }
        let decompressor = try ZlibDecompressor(algorithm: .gzip)
        let allocator = ByteBufferAllocator()
        var out = allocator.buffer(capacity: 4 * chunkSize)
        var ended = false
        while !ended {
            let data = try input.read(upToCount: chunkSize) ?? Data()
            if data.isEmpty { break }
            var buffer = allocator.buffer(bytes: data)
            while buffer.readableBytes > 0 {
                do {
                    try decompressor.inflate(from: &buffer, to: &out)
                    // Input left after a clean return: the stream ended before the file did.
                    if buffer.readableBytes > 0 { ended = true }
                    break
                } catch let error as CompressNIOError where error == .bufferOverflow {
                    try output.write(contentsOf: out.readableBytesView)
                    out.clear()
                } catch let error as CompressNIOError where error == .inputBufferOverflow {
                    break
                } catch let error as CompressNIOError where error == .corruptData {
                    throw BackupError("\(source) is not a valid gzip file")
                }
            }
            try output.write(contentsOf: out.readableBytesView)
            out.clear()
        }
    }

    private static func create(_ path: String) throws -> FileHandle {
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
              let handle = FileHandle(forWritingAtPath: path)
        else { throw BackupError("cannot write \(path)") }
        return handle
    }
}

/// A backup or restore that cannot be done; the message says why and what to do.
public struct BackupError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) {
        self.description = description
    }
}
