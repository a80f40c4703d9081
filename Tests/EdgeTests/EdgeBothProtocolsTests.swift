import CompressNIO
import Edge
import Foundation
import HummingbirdBcrypt
import NIOCore
import PortalCore
import PortalTestSupport
import Testing

/// The edge's features checked the same way over HTTP/1.1 and HTTP/2 (curl picks the protocol).
@Suite("Edge: features over HTTP/1.1 and HTTP/2", .serialized)
struct EdgeBothProtocolsTests {
    @Test("headers, compression, files, validators, ranges, access rules, status and errors", arguments: ["--http1.1", "--http2"])
    func features(protocolFlag: String) async throws {
        let directory = try TemporaryDirectory(prefix: "portal-both")
        defer { directory.remove() }
        try FileManager.default.createDirectory(atPath: directory.file("www"), withIntermediateDirectories: true)
        try "body { margin: 0; }\n".write(toFile: directory.file("www/app.css"), atomically: true, encoding: .utf8)
        let htpasswd = directory.file("htpasswd")
        try "gestor:\(Bcrypt.hash("senha-do-gestor", cost: 6))\n".write(toFile: htpasswd, atomically: true, encoding: .utf8)
        let upstream = try await RecordingUpstream.start(responseBody: String(repeating: "<li>tarefa</li>", count: 100),
                                                         contentType: "text/html")
        let refusing = try RefusingPort()
        defer { withExtendedLifetime(refusing) {} }
        let closed = refusing.port
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            var files = RouteSettings(path: "/static/", root: directory.file("www"))
            files.index = []
            var admin = RouteSettings(path: "/admin/", upstreams: ["127.0.0.1:\(upstream.port)"])
            admin.access.basicAuthFile = htpasswd
            var blocked = RouteSettings(path: "/blocked/", upstreams: ["127.0.0.1:\(upstream.port)"])
            blocked.access.deny = ["127.0.0.0/8"]
            var status = RouteSettings(path: "/server-status", upstreams: [])
            status.status = true
            status.access.localOnly = true
            edge.sites = [SiteSettings(name: "both", hosts: ["*"], routes: [
                RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"]),
                RouteSettings(path: "/down", upstreams: ["127.0.0.1:\(closed)"]),
                files, admin, blocked, status,
            ])]
        }
        let base = "https://localhost:\(edge.httpsPort)"
        let certificate = edge.certificateFile
        func curl(_ arguments: [String]) async throws -> EdgeHTTP2Tests.CurlResult {
            try await EdgeHTTP2Tests.curl([protocolFlag] + arguments, certificate: certificate)
        }
        let page = try await curl(["--compressed", base + "/tarefas"])
        let file = try await curl([base + "/static/app.css"])
        let etag = file.headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix("etag:") }
            .map { String($0.dropFirst(5)).trimmingCharacters(in: .whitespaces) } ?? ""
        let notModified = try await curl(["-H", "If-None-Match: \(etag)", base + "/static/app.css"])
        let range = try await curl(["-r", "0-3", base + "/static/app.css"])
        let noAuth = try await curl([base + "/admin/"])
        let withAuth = try await curl(["-u", "gestor:senha-do-gestor", base + "/admin/"])
        let blocked = try await curl([base + "/blocked/"])
        let status = try await curl([base + "/server-status?json"])
        let down = try await curl(["-H", "Accept: application/json", base + "/down"])
        await edge.stop()
        await upstream.stop()

        let expectedVersion = protocolFlag == "--http2" ? "2" : "1.1"
        for result in [page, file, noAuth, down] { #expect(result.version == expectedVersion) }
        // Every answer carries Date: the edge's own pages, files, and upstream answers without one.
        for result in [page, file, notModified, range, noAuth, withAuth, blocked, status, down] {
            #expect(result.headers.lowercased().contains("\r\ndate: "), "\(result.status)")
        }
        #expect(page.status == 200)
        #expect(page.body == String(repeating: "<li>tarefa</li>", count: 100))
        #expect(page.headers.lowercased().contains("content-encoding: br"))
        #expect(page.headers.lowercased().contains("x-frame-options: deny"))
        #expect(page.headers.lowercased().contains("strict-transport-security:"))
        #expect(file.status == 200)
        #expect(file.body == "body { margin: 0; }\n")
        #expect(notModified.status == 304)
        #expect(range.status == 206)
        #expect(range.body == "body")
        #expect(noAuth.status == 401)
        #expect(withAuth.status == 200)
        #expect(blocked.status == 403)
        #expect(status.status == 200)
        #expect(status.body.contains("\"requests\""))
        #expect(down.status == 502)
        #expect(down.body.contains("\"error\":\"502\""))
        #expect(down.headers.lowercased().contains("x-content-type-options: nosniff"))
    }

    @Test("cache lifetimes, HEAD, dates, index files, listings, traversal, precompressed files, gzip, body limits, CIDR rules, metrics",
          arguments: ["--http1.1", "--http2"])
    func moreFeatures(protocolFlag: String) async throws {
        let directory = try TemporaryDirectory(prefix: "portal-both")
        defer { directory.remove() }
        let www = directory.file("www")
        for folder in ["docs", "empty", "img"] {
            try FileManager.default.createDirectory(atPath: www + "/" + folder, withIntermediateDirectories: true)
        }
        try "body { margin: 0; }\n".write(toFile: www + "/app.css", atomically: true, encoding: .utf8)
        try "<h1>Documentos</h1>\n".write(toFile: www + "/docs/index.html", atomically: true, encoding: .utf8)
        try "%PDF".write(toFile: www + "/empty/a.pdf", atomically: true, encoding: .utf8)
        try Data([0x89, 0x50, 0x4E, 0x47] + Array(repeating: 0x41, count: 4_000)).write(to: URL(fileURLWithPath: www + "/img/logo.png"))
        let script = "console.log('portal');\n"
        try script.write(toFile: www + "/app.js", atomically: true, encoding: .utf8)
        var compressed = ByteBuffer(string: script)
        try Data(compressed.compress(with: .gzip()).readableBytesView).write(to: URL(fileURLWithPath: www + "/app.js.gz"))
        try "segredo".write(toFile: directory.file("secret.txt"), atomically: true, encoding: .utf8)
        let upstream = try await RecordingUpstream.start(responseBody: String(repeating: "<li>tarefa</li>", count: 100),
                                                         contentType: "text/html")
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            let files = RouteSettings(path: "/static/", root: www)
            var upload = RouteSettings(path: "/upload/", upstreams: ["127.0.0.1:\(upstream.port)"])
            upload.maxBodyBytes = 1_024
            var office = RouteSettings(path: "/office/", upstreams: ["127.0.0.1:\(upstream.port)"])
            office.access.allow = ["10.0.0.0/8"]
            var metrics = RouteSettings(path: "/metrics", upstreams: [])
            metrics.metrics = true
            edge.sites = [SiteSettings(name: "more", hosts: ["*"], routes: [
                RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"]), files, upload, office, metrics,
            ])]
        }
        let base = "https://localhost:\(edge.httpsPort)"
        let certificate = edge.certificateFile
        func curl(_ arguments: [String]) async throws -> EdgeHTTP2Tests.CurlResult {
            try await EdgeHTTP2Tests.curl([protocolFlag] + arguments, certificate: certificate)
        }
        func header(_ result: EdgeHTTP2Tests.CurlResult, _ name: String) -> String? {
            result.headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
                .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
        }
        let css = try await curl([base + "/static/app.css"])
        let png = try await curl(["-H", "Accept-Encoding: gzip", base + "/static/img/logo.png"])
        let head = try await curl(["-I", base + "/static/app.css"])
        let lastModified = header(css, "Last-Modified") ?? ""
        let unchanged = try await curl(["-H", "If-Modified-Since: \(lastModified)", base + "/static/app.css"])
        let index = try await curl([base + "/static/docs/"])
        let listing = try await curl([base + "/static/empty/"])
        let escape = try await curl(["--path-as-is", base + "/static/%2e%2e/secret.txt"])
        let sibling = try await curl(["-H", "Accept-Encoding: gzip", base + "/static/app.js"])
        let gzipPage = try await curl(["-H", "Accept-Encoding: gzip", base + "/tarefas"])
        let plainPage = try await curl([base + "/tarefas"])
        let tooLarge = try await curl(["-X", "POST", "--data-binary", String(repeating: "x", count: 4_096), base + "/upload/arquivo"])
        let small = try await curl(["-X", "POST", "--data-binary", "pequeno", base + "/upload/arquivo"])
        let office = try await curl([base + "/office/"])
        let metrics = try await curl([base + "/metrics"])
        let unknownMethod = try await curl(["-X", "FROB", base + "/tarefas"])
        let webDAV = try await curl(["-X", "PROPFIND", base + "/tarefas"])
        await edge.stop()
        await upstream.stop()

        let expectedVersion = protocolFlag == "--http2" ? "2" : "1.1"
        for result in [css, png, index, sibling, gzipPage, tooLarge, metrics] { #expect(result.version == expectedVersion) }
        #expect(css.status == 200)
        #expect(header(css, "Cache-Control") == "max-age=2592000")
        #expect(header(css, "Expires")?.hasSuffix(" GMT") == true)
        #expect(header(css, "Server") == "Portal")
        #expect(png.status == 200)
        #expect(header(png, "Cache-Control") == "max-age=31536000")
        #expect(header(png, "Content-Encoding") == nil)
        #expect(head.status == 200)
        #expect(header(head, "Content-Length") == "20")
        // curl -I writes the headers where the body would go: no body came with them.
        #expect(!head.body.contains("margin"))
        #expect(unchanged.status == 304)
        #expect(index.status == 200)
        #expect(index.body == "<h1>Documentos</h1>\n")
        #expect(listing.status == 403)
        #expect(!listing.body.contains("a.pdf"))
        // Normalized, the path leaves the document root and belongs to the next route (the upstream).
        #expect([200, 400, 403, 404].contains(escape.status), "\(escape.status)")
        #expect(!escape.body.contains("segredo"))
        #expect(header(sibling, "Content-Encoding") == "gzip")
        #expect(header(sibling, "Vary") == "Accept-Encoding")
        #expect(header(gzipPage, "Content-Encoding") == "gzip")
        #expect(header(gzipPage, "Vary")?.contains("Accept-Encoding") == true)
        #expect(header(plainPage, "Content-Encoding") == nil)
        #expect(plainPage.body == String(repeating: "<li>tarefa</li>", count: 100))
        #expect(tooLarge.status == 413)
        #expect(small.status == 200)
        // A method the edge does not know gets 501 over both protocols; a registered one is proxied.
        #expect(unknownMethod.status == 501)
        #expect(webDAV.status == 200)
        #expect(office.status == 403)
        #expect(metrics.status == 200)
        #expect(metrics.body.contains("portal_edge_requests_total") || metrics.body.contains("# TYPE"))
    }
}
