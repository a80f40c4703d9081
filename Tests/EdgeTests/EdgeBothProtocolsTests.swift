import Edge
import Foundation
import HummingbirdBcrypt
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
            try await Task.detached { try EdgeHTTP2Tests.curl([protocolFlag] + arguments, certificate: certificate) }.value
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
}
