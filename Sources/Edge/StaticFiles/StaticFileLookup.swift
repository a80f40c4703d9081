import Foundation
import NIOCore
import NIOPosix

/// Where a static route serves from, resolved when the configuration is loaded.
struct StaticRoot: Sendable {
    /// The document root with symbolic links resolved.
    let path: String
    let index: [String]
    let listDirectories: Bool
    let precompressed: Bool
}

/// Finds and opens the file for a request. Runs on the thread pool: `stat`, `realpath` and
/// `open` can block, and the event loops must not.
enum StaticFileLookup {
    struct Found: Sendable {
        let handle: NIOFileHandle
        let size: Int
        let modified: Int
        let modifiedNanoseconds: Int
        let contentType: String
        /// `gzip` or `br` when a precompressed sibling is served.
        let encoding: String?
        /// True when a precompressed sibling could have been chosen (so the answer varies).
        let varies: Bool
    }

    enum Outcome: Sendable {
        case file(Found)
        case listing(String)
        /// A directory asked for without its trailing slash.
        case addSlash
        case notFound
        case forbidden
    }

    /// `trailingSlash`: the request path ends with `/`, which only a directory may (a directory
    /// asked for without one is sent to its slashed name, so relative links in it resolve).
    /// `requestPath` titles a directory listing: the path the client asked for.
    static func lookup(root: StaticRoot, segments: [String], trailingSlash: Bool,
                       acceptsGzip: Bool, acceptsBrotli: Bool, requestPath: String) -> Outcome {
        var candidate = root.path
        for segment in segments { candidate += "/" + segment }
        guard let resolved = resolvedInsideRoot(candidate, root: root.path), let info = FileInfo(resolved) else {
            return .notFound
        }
        if info.isDirectory {
            guard trailingSlash else { return .addSlash }
            for name in root.index {
                if let indexResolved = resolvedInsideRoot(resolved + "/" + name, root: root.path),
                   let indexInfo = FileInfo(indexResolved), indexInfo.isRegular {
                    return open(indexResolved, info: indexInfo, name: name, root: root,
                                acceptsGzip: acceptsGzip, acceptsBrotli: acceptsBrotli)
                }
            }
            guard root.listDirectories else { return .forbidden }
            return listing(resolved, root: root.path, title: requestPath)
        }
        guard info.isRegular, !trailingSlash else { return .notFound }
        return open(resolved, info: info, name: segments.last ?? "", root: root,
                    acceptsGzip: acceptsGzip, acceptsBrotli: acceptsBrotli)
    }

    /// The real path of `path` when it exists and lies inside `root` (symbolic links followed).
    static func resolvedInsideRoot(_ path: String, root: String) -> String? {
        guard let real = realpath(path, nil) else { return nil }
        defer { free(real) }
        let resolved = String(cString: real)
        guard resolved == root || resolved.hasPrefix(root.hasSuffix("/") ? root : root + "/") else { return nil }
        return resolved
    }

    private static func open(_ path: String, info: FileInfo, name: String, root: StaticRoot,
                             acceptsGzip: Bool, acceptsBrotli: Bool) -> Outcome {
        let contentType = MediaTypes.type(forFile: name)
        var chosen = (path: path, info: info, encoding: String?.none)
        var varies = false
        if root.precompressed {
            for (suffix, encoding, accepted) in [(".br", "br", acceptsBrotli), (".gz", "gzip", acceptsGzip)] {
                let sibling = path + suffix
                guard let siblingResolved = resolvedInsideRoot(sibling, root: root.path),
                      let siblingInfo = FileInfo(siblingResolved), siblingInfo.isRegular else { continue }
                varies = true
                if accepted && chosen.encoding == nil {
                    chosen = (sibling, siblingInfo, encoding)
                }
            }
        }
        let descriptor = Foundation.open(chosen.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return errno == EACCES ? .forbidden : .notFound }
        return .file(Found(
            handle: NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: descriptor),
            size: chosen.info.size, modified: chosen.info.modified, modifiedNanoseconds: chosen.info.modifiedNanoseconds,
            contentType: contentType, encoding: chosen.encoding, varies: varies))
    }

    /// The entries of `directory` a client could open: hidden names and links leading out of
    /// the root are left out, as the requests for them would be refused.
    private static func listing(_ directory: String, root: String, title: String) -> Outcome {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return .forbidden }
        var html = "<!DOCTYPE html>\n<html lang=\"pt-BR\"><head><meta charset=\"utf-8\"><title>Índice de \(HTMLEscape.escape(title))</title></head><body>\n"
        html += "<h1>Índice de \(HTMLEscape.escape(title))</h1>\n<ul>\n"
        for name in names.sorted() where !name.hasPrefix(".") {
            guard let resolved = resolvedInsideRoot(directory + "/" + name, root: root), let info = FileInfo(resolved),
                  info.isDirectory || info.isRegular else { continue }
            let display = name + (info.isDirectory ? "/" : "")
            let href = (name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? name) + (info.isDirectory ? "/" : "")
            html += "<li><a href=\"\(HTMLEscape.escape(href))\">\(HTMLEscape.escape(display))</a></li>\n"
        }
        html += "</ul></body></html>\n"
        return .listing(html)
    }
}

/// What a lookup needs to know about a path (it is already resolved, so links are followed).
struct FileInfo {
    let isDirectory: Bool
    let isRegular: Bool
    let size: Int
    /// Seconds since the epoch.
    let modified: Int
    /// Nanoseconds since the epoch: two versions written within one second still differ.
    let modifiedNanoseconds: Int

    init?(_ path: String) {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        self.init(status)
    }

    /// The facts of an open descriptor (`fstat`); nil when it cannot be asked.
    init?(descriptor: CInt) {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return nil }
        self.init(status)
    }

    private init(_ status: stat) {
        let type = status.st_mode & S_IFMT
        isDirectory = type == S_IFDIR
        isRegular = type == S_IFREG
        size = Int(status.st_size)
        modified = Int(status.st_mtim.tv_sec)
        modifiedNanoseconds = Int(status.st_mtim.tv_sec) &* 1_000_000_000 &+ Int(status.st_mtim.tv_nsec)
    }
}
