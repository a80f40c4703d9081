import CompressNIO
import Edge
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import PortalCore
import PortalTestSupport
import Testing

@Suite("Edge: static files (document roots)", .serialized)
struct EdgeStaticFilesTests {
    /// A document root with a stylesheet, a precompressed script, an index, a plain folder,
    /// a big file, a secret outside the root and a link pointing at it.
    static func makeRoot(_ directory: TemporaryDirectory) throws -> String {
        let root = directory.file("www")
        let manager = FileManager.default
        for folder in ["www/css", "www/js", "www/docs", "www/empty"] {
            try manager.createDirectory(atPath: directory.file(folder), withIntermediateDirectories: true)
        }
        try "body { color: #1f4e79; }\n".write(toFile: root + "/css/app.css", atomically: true, encoding: .utf8)
        try "console.log('portal');\n".write(toFile: root + "/js/app.js", atomically: true, encoding: .utf8)
        var original = ByteBuffer(string: "console.log('portal');\n")
        var compressed = try original.compress(with: .gzip())
        try Data(compressed.readBytes(length: compressed.readableBytes) ?? []).write(to: URL(fileURLWithPath: root + "/js/app.js.gz"))
        try "<h1>Documentos</h1>\n".write(toFile: root + "/docs/index.html", atomically: true, encoding: .utf8)
        try "a.pdf".write(toFile: root + "/empty/a.pdf", atomically: true, encoding: .utf8)
        try "admin:$2y$05$hash".write(toFile: root + "/css/.htpasswd", atomically: true, encoding: .utf8)
        try "font".write(toFile: root + "/css/site.ttf", atomically: true, encoding: .utf8)
        try String(repeating: ".tabela td { padding: 4px; border: 1px solid #ccc; }\n", count: 200)
            .write(toFile: root + "/css/tables.css", atomically: true, encoding: .utf8)
        try String(repeating: "0123456789", count: 30_000).write(toFile: root + "/big.txt", atomically: true, encoding: .utf8)
        try "senha do banco".write(toFile: directory.file("secret.txt"), atomically: true, encoding: .utf8)
        try manager.createSymbolicLink(atPath: root + "/escape.txt", withDestinationPath: directory.file("secret.txt"))
        return root
    }

    static func start(_ directory: TemporaryDirectory, listDirectories: Bool = false) async throws -> EdgeFixture {
        let root = try makeRoot(directory)
        return try await EdgeFixture.start(upstreams: []) { edge in
            var route = RouteSettings(path: "/static/", root: root)
            route.listDirectories = listDirectories
            var site = SiteSettings(name: "files", hosts: ["*"], routes: [
                route, RouteSettings(path: "/", upstreams: ["127.0.0.1:9"])])
            site.redirectToHTTPS = false
            edge.sites = [site]
        }
    }

    /// `path` from the edge over plain HTTP or over HTTPS.
    static func get(_ edge: EdgeFixture, _ path: String, tls: Bool, headers: [(String, String)] = [],
                    method: HTTPMethod = .GET) async throws -> HTTPTestBytesResponse {
        tls ? try await TestHTTPClient.requestBytes(port: edge.httpsPort, method: method, path: path, headers: headers, tls: edge.tls)
            : try await TestHTTPClient.requestBytes(port: edge.httpPort, method: method, path: path, headers: headers)
    }

    @Test("a file comes with type, length, validators and the seed's cache lifetime, over HTTP and HTTPS")
    func servesFile() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-static")
        defer { directory.remove() }
        let edge = try await Self.start(directory)
        let plain = try await TestHTTPClient.request(port: edge.httpPort, path: "/static/css/app.css")
        let secure = try await TestHTTPClient.request(port: edge.httpsPort, path: "/static/css/app.css",
                                                      headers: [("Host", "localhost")], tls: edge.tls)
        let big = try await TestHTTPClient.request(port: edge.httpsPort, path: "/static/big.txt", tls: edge.tls)
        let bigPlain = try await TestHTTPClient.request(port: edge.httpPort, path: "/static/big.txt")
        let head = try await TestHTTPClient.request(port: edge.httpPort, method: .HEAD, path: "/static/css/app.css")
        await edge.stop()
        for response in [plain, secure] {
            #expect(response.status == 200)
            #expect(response.body == "body { color: #1f4e79; }\n")
            #expect(response.header("Content-Type") == "text/css; charset=utf-8")
            #expect(response.header("Content-Length") == "25")
            #expect(response.header("ETag")?.hasPrefix("\"") == true)
            #expect(response.header("Last-Modified")?.hasSuffix(" GMT") == true)
            #expect(response.header("Cache-Control") == "max-age=2592000")
            #expect(response.header("Expires") != nil)
            #expect(response.header("Accept-Ranges") == "bytes")
        }
        #expect(big.body.utf8.count == 300_000)
        #expect(bigPlain.body.utf8.count == 300_000)
        #expect(head.status == 200)
        #expect(head.header("Content-Length") == "25")
        #expect(head.body.isEmpty)
    }

    @Test("many HTTP/2 streams read the same file at once, each whole (chunked reads share the open file)")
    func concurrentReadsOverHTTP2() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-static")
        defer { directory.remove() }
        let root = try Self.makeRoot(directory)
        let expected = String(repeating: "0123456789", count: 100_000)
        try expected.write(toFile: root + "/large.txt", atomically: true, encoding: .utf8)
        // One worker, so every stream reads through the same open file.
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            edge.workers = 1
            edge.sites = [SiteSettings(name: "files", hosts: ["*"], routes: [RouteSettings(path: "/static/", root: root)])]
        }
        let url = "https://localhost:\(edge.httpsPort)/static/large.txt"
        let output = directory.file("out")
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let certificate = edge.certificateFile
        let port = edge.httpsPort
        // curl sends all 48 requests as streams of one HTTP/2 connection.
        var arguments = ["--http2", "--parallel", "--parallel-immediate", "--parallel-max", "48", "--max-time", "60",
                         "--cacert", certificate, "--resolve", "localhost:\(port):127.0.0.1", "-w", "%{http_code}\\n"]
        for index in 0..<48 { arguments += ["-o", output + "/\(index)", url] }
        let codes = try await EdgeHTTP2Tests.curlOutput(arguments)
        await edge.stop()
        #expect(codes.split(separator: "\n") == Array(repeating: "200", count: 48), "\(codes)")
        for index in 0..<48 {
            let body = try? String(contentsOfFile: output + "/\(index)", encoding: .utf8)
            #expect(body == expected, "stream \(index): \(body?.utf8.count ?? -1) bytes")
        }
    }

    @Test("a graceful stop lets a slow reader receive the whole file already handed to the kernel's queue")
    func gracefulStopFinishesDownload() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-static")
        defer { directory.remove() }
        let root = try Self.makeRoot(directory)
        let size = 32 * 1024 * 1024
        try Data(repeating: 0x61, count: size).write(to: URL(fileURLWithPath: root + "/huge.bin"))
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            edge.drainTimeoutSeconds = 20
            var site = SiteSettings(name: "files", hosts: ["*"], routes: [RouteSettings(path: "/static/", root: root)])
            site.redirectToHTTPS = false
            edge.sites = [site]
        }
        // A client that does not read yet: the edge hands the file over (sendfile) and the
        // exchange is over on its side while most bytes still wait to be written.
        let counter = ByteCounter()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(ChannelOptions.autoRead, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(counter) }
            }
            .connect(host: "127.0.0.1", port: edge.httpPort).get()
        try await channel.writeAndFlush(ByteBuffer(string: "GET /static/huge.bin HTTP/1.1\r\nHost: x\r\n\r\n"))
        try await Task.sleep(for: .milliseconds(500))
        let stopping = Task { await edge.stop() }
        try await Task.sleep(for: .milliseconds(300))
        try await channel.setOption(ChannelOptions.autoRead, value: true).get()
        channel.read()
        for _ in 0..<300 where !counter.isClosed { try await Task.sleep(for: .milliseconds(50)) }
        await stopping.value
        try? await channel.close()
        #expect(counter.isClosed, "the edge closed the connection after the download")
        #expect(counter.count > size, "received \(counter.count) bytes of a \(size)-byte file")
    }

    @Test("conditional requests get 304 or 412; ranges get 206 or 416; several ranges get the whole file")
    func conditionalAndRanges() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-static")
        defer { directory.remove() }
        let edge = try await Self.start(directory)
        let path = "/static/css/app.css"
        let first = try await TestHTTPClient.request(port: edge.httpPort, path: path)
        let etag = try #require(first.header("ETag"))
        let lastModified = try #require(first.header("Last-Modified"))
        let byTag = try await TestHTTPClient.request(port: edge.httpPort, path: path, headers: [("If-None-Match", "\"other\", \(etag)")])
        let byDate = try await TestHTTPClient.request(port: edge.httpPort, path: path, headers: [("If-Modified-Since", lastModified)])
        let changed = try await TestHTTPClient.request(port: edge.httpPort, path: path, headers: [("If-None-Match", "\"other\"")])
        let range = try await TestHTTPClient.request(port: edge.httpPort, path: path, headers: [("Range", "bytes=0-3")])
        let suffix = try await TestHTTPClient.request(port: edge.httpsPort, path: path, headers: [("Range", "bytes=-3")], tls: edge.tls)
        let outside = try await TestHTTPClient.request(port: edge.httpPort, path: path, headers: [("Range", "bytes=100-")])
        let several = try await TestHTTPClient.request(port: edge.httpPort, path: path, headers: [("Range", "bytes=0-1,4-5")])
        let staleIfRange = try await TestHTTPClient.request(port: edge.httpPort, path: path,
                                                            headers: [("Range", "bytes=0-3"), ("If-Range", "\"old\"")])
        let freshIfRange = try await TestHTTPClient.request(port: edge.httpPort, path: path,
                                                            headers: [("Range", "bytes=0-3"), ("If-Range", etag)])
        let ifMatch = try await TestHTTPClient.request(port: edge.httpPort, path: path, headers: [("If-Match", etag)])
        let ifMatchOther = try await TestHTTPClient.request(port: edge.httpPort, path: path, headers: [("If-Match", "\"nope\"")])
        let ifMatchWeak = try await TestHTTPClient.request(port: edge.httpPort, path: path, headers: [("If-Match", "W/\(etag)")])
        let unmodifiedSince = try await TestHTTPClient.request(port: edge.httpPort, path: path,
                                                               headers: [("If-Unmodified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")])
        let unmodifiedNow = try await TestHTTPClient.request(port: edge.httpPort, path: path,
                                                             headers: [("If-Unmodified-Since", lastModified)])
        await edge.stop()
        #expect(ifMatch.status == 200)
        #expect(ifMatchOther.status == 412)
        #expect(ifMatchWeak.status == 412, "If-Match compares strongly")
        #expect(unmodifiedSince.status == 412)
        #expect(unmodifiedNow.status == 200)
        #expect(byTag.status == 304)
        #expect(byTag.body.isEmpty)
        #expect(byDate.status == 304)
        #expect(changed.status == 200)
        #expect(range.status == 206)
        #expect(range.body == "body")
        #expect(range.header("Content-Range") == "bytes 0-3/25")
        #expect(suffix.status == 206)
        #expect(suffix.body == "}\n".suffix(3) || suffix.body.utf8.count == 3)
        #expect(outside.status == 416)
        #expect(outside.header("Content-Range") == "bytes */25")
        #expect(several.status == 200)
        #expect(staleIfRange.status == 200)
        #expect(freshIfRange.status == 206)
    }

    @Test("index files, no listing unless enabled, 405 for POST, slash redirects, hidden files, font lifetimes")
    func directories() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-static")
        defer { directory.remove() }
        let edge = try await Self.start(directory)
        let index = try await TestHTTPClient.request(port: edge.httpPort, path: "/static/docs/")
        let noIndex = try await TestHTTPClient.request(port: edge.httpPort, path: "/static/empty/")
        let post = try await TestHTTPClient.request(port: edge.httpPort, method: .POST, path: "/static/css/app.css", body: "x")
        let unslashed = try await TestHTTPClient.request(port: edge.httpPort, path: "/static/docs?v=1")
        let fileSlashed = try await TestHTTPClient.request(port: edge.httpPort, path: "/static/css/app.css/")
        let hidden = try await TestHTTPClient.request(port: edge.httpPort, path: "/static/css/.htpasswd")
        let font = try await TestHTTPClient.request(port: edge.httpPort, path: "/static/css/site.ttf")
        await edge.stop()
        // A folder without its slash is sent to it (relative links then resolve), a file with one is not found.
        #expect(unslashed.status == 301)
        #expect(unslashed.header("Location") == "/static/docs/?v=1")
        #expect(fileSlashed.status == 404)
        #expect(hidden.status == 404)
        #expect(!hidden.body.contains("admin"))
        #expect(font.header("Content-Type") == "font/ttf")
        #expect(font.header("Cache-Control") == "max-age=31536000")
        #expect(index.status == 200)
        #expect(index.body == "<h1>Documentos</h1>\n")
        #expect(noIndex.status == 403)
        #expect(!noIndex.body.contains("a.pdf"))
        #expect(post.status == 405)
        #expect(post.header("Allow") == "GET, HEAD")

        let listingDirectory = try TemporaryDirectory(prefix: "portal-static")
        defer { listingDirectory.remove() }
        let listing = try await Self.start(listingDirectory, listDirectories: true)
        let listed = try await TestHTTPClient.request(port: listing.httpPort, path: "/static/empty/")
        await listing.stop()
        #expect(listed.status == 200)
        #expect(listed.body.contains("<a href=\"a.pdf\">a.pdf</a>"))
        #expect(listed.body.contains("<title>Índice de /static/empty/</title>"))
    }

    /// `GET path` sent byte for byte (no client library tidying it) to a fresh edge serving `makeRoot`.
    static func getRaw(_ path: String) async throws -> RawSocketClient.Result {
        let directory = try TemporaryDirectory(prefix: "portal-static")
        defer { directory.remove() }
        let edge = try await Self.start(directory)
        let result = try await RawSocketClient.exchange(
            port: edge.httpPort, chunks: ["GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"])
        await edge.stop()
        return result
    }

    @Test("HTTP/1.0 clients asking for keep-alive are told the connection stays open, and can use it again")
    func http10KeepAlive() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-static")
        defer { directory.remove() }
        let edge = try await Self.start(directory)
        let request = "GET /static/css/app.css HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"
        let missing = "GET /static/none.css HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"
        let result = try await RawSocketClient.exchange(port: edge.httpPort, chunks: [request, missing, request],
                                                        gap: .milliseconds(100), timeout: .seconds(2))
        await edge.stop()
        #expect(result.statuses == [200, 404, 200])
        #expect(result.response.components(separatedBy: "Connection: keep-alive").count == 4)
        // The server's own version in the status line, as Apache and nginx answer (RFC 9110 §6.2).
        #expect(result.response.hasPrefix("HTTP/1.1 200 "))
        #expect(!result.response.contains("HTTP/1.0 "))
    }

    @Test("every way out of the document root is refused", arguments: [
        "/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/%2E%2E/secret.txt", "/static/..%2fsecret.txt",
        "/static/css/..%2f..%2f..%2fsecret.txt", "/static/%252e%252e/secret.txt", "/static/..%5csecret.txt",
        "/static/css/app.css%00.png", "/static/escape.txt",
    ])
    func traversal(path: String) async throws {
        let result = try await Self.getRaw(path)
        // A path that leaves the root once normalized belongs to the next route (here an upstream that is down).
        #expect([400, 403, 404, 502].contains(result.statuses.first ?? 0), "\(path): \(result.statuses)")
        #expect(!result.response.contains("senha do banco"), "\(path)")
    }

    @Test("other spellings of a path inside the root serve the same file", arguments: [
        "/static/./css/app.css", "/static//css/app.css", "/static/js/../css/app.css", "/static/%63ss/app.css",
    ])
    func equivalentSpellings(path: String) async throws {
        let result = try await Self.getRaw(path)
        #expect(result.statuses == [200], "\(path)")
        #expect(result.response.contains("body { color: #1f4e79; }"), "\(path)")
    }

    @Test("a text file without a precompressed sibling is compressed on the way, over HTTP and HTTPS", arguments: [false, true])
    func compressedOnTheWay(tls: Bool) async throws {
        let directory = try TemporaryDirectory(prefix: "portal-static")
        defer { directory.remove() }
        let edge = try await Self.start(directory)
        let original = String(repeating: ".tabela td { padding: 4px; border: 1px solid #ccc; }\n", count: 200)
        func get(_ headers: [(String, String)], method: HTTPMethod = .GET) async throws -> HTTPTestBytesResponse {
            try await Self.get(edge, "/static/css/tables.css", tls: tls, headers: headers, method: method)
        }
        let gzip = try await get([("Accept-Encoding", "gzip")])
        let again = try await get([("Accept-Encoding", "gzip")])
        let brotli = try await get([("Accept-Encoding", "br, gzip")])
        let identity = try await get([])
        let range = try await get([("Accept-Encoding", "gzip"), ("Range", "bytes=0-5")])
        let head = try await get([("Accept-Encoding", "gzip")], method: .HEAD)
        await edge.stop()
        for response in [gzip, again] {
            #expect(response.status == 200)
            #expect(response.header("Content-Encoding") == "gzip")
            #expect(response.header("Vary") == "Accept-Encoding")
            #expect(response.header("ETag")?.hasPrefix("W/") == true)
            #expect(response.header("Accept-Ranges") == nil)
            #expect(response.header("Content-Length") == String(response.bytes.count))
            var buffer = ByteBuffer(bytes: response.bytes)
            #expect(String(buffer: try buffer.decompress(with: .gzip())) == original)
        }
        #expect(gzip.bytes.count < original.utf8.count / 10)
        #expect(brotli.header("Content-Encoding") == "br")
        #expect(brotli.header("ETag") != gzip.header("ETag"), "each coding has its own validator")
        #expect(identity.header("ETag") != gzip.header("ETag"))
        #expect(identity.header("Content-Encoding") == nil)
        #expect(identity.header("Vary") == "Accept-Encoding")
        #expect(identity.bytes.count == original.utf8.count)
        #expect(range.status == 206)
        #expect(range.header("Content-Encoding") == nil)
        #expect(String(decoding: range.bytes, as: UTF8.self) == ".tabel")
        #expect(head.header("Content-Encoding") == "gzip")
        #expect(head.header("Content-Length") == String(gzip.bytes.count))
        #expect(head.bytes.isEmpty)
    }

    @Test("a text file over 1 MiB is compressed as it streams, over HTTP and HTTPS, with gzip and brotli",
          arguments: [false, true])
    func largeFileCompressedWhileStreaming(tls: Bool) async throws {
        let directory = try TemporaryDirectory(prefix: "portal-static")
        defer { directory.remove() }
        let edge = try await Self.start(directory)
        let original = (0..<40_000).map { "linha \($0): lançamento \($0 % 97) conferido\n" }.joined()
        #expect(original.utf8.count > 1_500_000)
        try original.write(toFile: directory.file("www/js/bundle.js"), atomically: true, encoding: .utf8)
        func get(_ headers: [(String, String)], method: HTTPMethod = .GET) async throws -> HTTPTestBytesResponse {
            try await Self.get(edge, "/static/js/bundle.js", tls: tls, headers: headers, method: method)
        }
        let gzip = try await get([("Accept-Encoding", "gzip")])
        let head = try await get([("Accept-Encoding", "gzip")], method: .HEAD)
        let identity = try await get([])
        let certificate = edge.certificateFile
        let url = tls ? "https://localhost:\(edge.httpsPort)/static/js/bundle.js" : "http://127.0.0.1:\(edge.httpPort)/static/js/bundle.js"
        let brotli = try await EdgeHTTP2Tests.curl(["--http1.1", "--compressed", "-H", "Accept-Encoding: br", url], certificate: certificate)
        await edge.stop()
        #expect(gzip.status == 200)
        #expect(gzip.header("Content-Encoding") == "gzip")
        #expect(gzip.header("Content-Length") == nil)
        #expect(gzip.header("Transfer-Encoding") == "chunked")
        #expect(gzip.header("ETag")?.hasPrefix("W/") == true)
        var buffer = ByteBuffer(bytes: gzip.bytes)
        #expect(String(buffer: try buffer.decompress(with: .gzip(), maxSize: 4 << 20)) == original)
        #expect(gzip.bytes.count < original.utf8.count / 4)
        #expect(head.header("Content-Encoding") == "gzip")
        #expect(head.bytes.isEmpty)
        #expect(identity.header("Content-Length") == String(original.utf8.count))
        #expect(identity.bytes.count == original.utf8.count)
        #expect(brotli.headers.lowercased().contains("content-encoding: br"))
        #expect(brotli.body == original)
    }

    @Test("a precompressed sibling is served to clients that accept gzip")
    func precompressed() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-static")
        defer { directory.remove() }
        let edge = try await Self.start(directory)
        let gzip = try await TestHTTPClient.requestBytes(port: edge.httpPort, path: "/static/js/app.js",
                                                         headers: [("Accept-Encoding", "gzip, br;q=0")])
        let identity = try await TestHTTPClient.request(port: edge.httpPort, path: "/static/js/app.js")
        await edge.stop()
        #expect(gzip.header("Content-Encoding") == "gzip")
        #expect(gzip.header("Vary") == "Accept-Encoding")
        #expect(gzip.header("Content-Type") == "application/javascript; charset=utf-8")
        var buffer = ByteBuffer(bytes: gzip.bytes)
        #expect(String(buffer: try buffer.decompress(with: .gzip())) == "console.log('portal');\n")
        #expect(identity.header("Content-Encoding") == nil)
        #expect(identity.header("Vary") == "Accept-Encoding")
        #expect(identity.body == "console.log('portal');\n")
    }

    @Test("a changed file is served again within about a second (the open-file cache expires)", arguments: [false, true])
    func changedFile(tls: Bool) async throws {
        let directory = try TemporaryDirectory(prefix: "portal-static")
        defer { directory.remove() }
        let edge = try await Self.start(directory)
        // Over TLS a small file is read once and then sent from memory within the entry's second.
        func get(_ headers: [(String, String)] = []) async throws -> HTTPTestBytesResponse {
            try await Self.get(edge, "/static/css/app.css", tls: tls, headers: headers)
        }
        let before = try await get()
        let again = try await get()
        let part = try await get([("Range", "bytes=7-11")])
        try "body { color: red; }\n".write(toFile: directory.file("www/css/app.css"), atomically: true, encoding: .utf8)
        try await Task.sleep(for: .milliseconds(1_200))
        let after = try await get()
        await edge.stop()
        #expect(before.body == "body { color: #1f4e79; }\n")
        #expect(again.body == before.body)
        #expect(part.status == 206)
        #expect(part.body == "color")
        #expect(after.body == "body { color: red; }\n")
        #expect(after.header("Content-Length") == "21")
    }

    @Test("a file rewritten in place with the same size is sent with validators of the new version at once",
          arguments: [false, true])
    func rewrittenInPlace(tls: Bool) async throws {
        let directory = try TemporaryDirectory(prefix: "portal-static")
        defer { directory.remove() }
        let edge = try await Self.start(directory)
        func get(_ headers: [(String, String)] = []) async throws -> HTTPTestBytesResponse {
            try await Self.get(edge, "/static/css/app.css", tls: tls, headers: headers)
        }
        let before = try await get()
        let cached = try await get()
        // Same inode, same length, same second: only the nanoseconds of the time differ.
        let handle = try #require(FileHandle(forWritingAtPath: directory.file("www/css/app.css")))
        try handle.write(contentsOf: Data("body { color: #000000; }\n".utf8))
        try handle.close()
        let after = try await get()
        let stale = try await get([("If-None-Match", before.header("ETag") ?? "")])
        await edge.stop()
        #expect(before.body == "body { color: #1f4e79; }\n")
        #expect(cached.body == before.body)
        #expect(after.body == "body { color: #000000; }\n")
        #expect(after.header("ETag") != before.header("ETag"))
        #expect(stale.status == 200)
        #expect(stale.body == after.body)
    }
}
