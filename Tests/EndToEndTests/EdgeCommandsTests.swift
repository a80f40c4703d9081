import Foundation
import PortalCore
import PortalTestSupport
import Testing

@Suite("portal check and portal edge reload", .serialized)
struct EdgeCommandsTests {
    @Test("check warns about an upstream that refuses connections, naming the app's port (the seed's 5000 vs 9000)")
    func refusingUpstream() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-e2e")
        defer { directory.remove() }
        let refusing = try RefusingPort()
        defer { withExtendedLifetime(refusing) {} }
        let closed = refusing.port
        let app = try await RecordingUpstream.start()
        defer { Task { await app.stop() } }
        let file = directory.file("portal.yaml")
        try """
            app:
              port: \(app.port)
            edge:
              sites:
                - name: portal
                  hosts: [portal.jpcontabil.com.br]
                  access_log: \(directory.file("portal-access.log"))
                  headers:
                    set: {Cache-Control: no-store}
                    append: {Link: "</app.css>; rel=preload"}
                    unset: [Permissions-Policy]
                  routes:
                    - path: /
                      upstreams: ["127.0.0.1:\(closed)"]
                      cache: true
                    - path: /server-status
                      status: true
                    - path: /reports/
                      upstreams: ["127.0.0.1:\(closed)"]
                      access: {allow: ["10.0.0.0/8"]}
                    - path: /legacy/
                      upstreams: ["app.invalid:8080"]
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await PortalProcess.run(["check", "--config", file, "--dump-sites", "--data-dir", directory.file("d")],
                                                 outputDirectory: directory.path)
        #expect(result.status == 0)
        #expect(result.stdout.contains("Syntax OK"))
        #expect(result.stderr.contains("warning: upstream 127.0.0.1:\(closed) (site 'portal', route /) refuses connections"))
        #expect(result.stderr.contains("warning: upstream app.invalid:8080 (site 'portal', route /legacy/): the name does not resolve"))
        #expect(result.stderr.contains("the app is listening on 127.0.0.1:\(app.port) (app.port): if this route is meant "
            + "for the app, point it at 127.0.0.1:\(app.port)"), "\(result.stderr)")
        // With the app down too, pointing the route at it would not help: the warning says to start it.
        let appDown = try RefusingPort()
        defer { withExtendedLifetime(appDown) {} }
        let text = try String(contentsOfFile: file, encoding: .utf8)
        try text.replacingOccurrences(of: "port: \(app.port)", with: "port: \(appDown.port)")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let bothDown = try await PortalProcess.run(["check", "--config", file, "--data-dir", directory.file("d")],
                                                   outputDirectory: directory.path)
        #expect(bothDown.stderr.contains("nothing listens on the app's address 127.0.0.1:\(appDown.port)"), "\(bothDown.stderr)")
        #expect(bothDown.stderr.contains("start the service behind it, or fix the address"), "\(bothDown.stderr)")
        #expect(result.stdout.contains("site portal"))
        #expect(result.stdout.contains("hosts: portal.jpcontabil.com.br"))
        #expect(result.stdout.contains("route / -> 127.0.0.1:\(closed)"))
        #expect(result.stdout.contains("cached up to 1048576 bytes per response"))
        #expect(result.stdout.contains("route /server-status -> status page [local only]"))
        #expect(result.stdout.contains("route /reports/ -> 127.0.0.1:\(closed)"))
        #expect(result.stdout.contains("[allow 10.0.0.0/8]"))
        #expect(result.stdout.contains("Listeners: https://0.0.0.0:8443, http://0.0.0.0:8080"))
        #expect(result.stdout.contains("Access log: \(directory.file("d"))/logs/access.log (combined)"))
        #expect(result.stdout.contains("Error log: \(directory.file("d"))/logs/error.log (warnings and errors; also standard error)"))
        #expect(result.stdout.contains("access log: \(directory.file("portal-access.log")) (besides the global one)"))
        #expect(result.stdout.contains("response headers set: Server, X-Frame-Options, X-Content-Type-Options, Referrer-Policy, "
            + "Content-Security-Policy, Strict-Transport-Security, Cache-Control"), "\(result.stdout)")
        #expect(result.stdout.contains("response headers appended: Link"))
        #expect(result.stdout.contains("response headers removed: permissions-policy"))
        #expect(result.stdout.contains("HSTS (HTTPS only): max-age=31536000; includeSubDomains"))
    }

    @Test("check refuses a host claimed by two sites, and a certificate that cannot be read")
    func siteErrors() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-e2e")
        defer { directory.remove() }
        let file = directory.file("portal.yaml")
        try """
            edge:
              sites:
                - name: one
                  hosts: [a.test]
                  certificate_file: \(directory.file("none.pem"))
                  key_file: \(directory.file("none-key.pem"))
                  routes: [{path: /, upstreams: ["127.0.0.1:9000"]}]
                - name: two
                  hosts: [a.test]
                  routes: [{path: /, upstreams: ["127.0.0.1:9000"]}]
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await PortalProcess.run(["check", "--config", file], outputDirectory: directory.path)
        #expect(result.status == 1)
        // Pointed at the second claim, line and column, like every other configuration error.
        #expect(result.stderr.contains("\(file):9:15: host 'a.test' belongs to both site 'one' and site 'two'"),
                "\(result.stderr)")
    }

    @Test("check names the line of a certificate or key file that cannot be used, and says why in words")
    func certificateFileErrors() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-e2e")
        defer { directory.remove() }
        let file = directory.file("portal.yaml")
        let folder = directory.file("certs")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "not a key".write(toFile: directory.file("key.pem"), atomically: true, encoding: .utf8)
        // A usable certificate for site two, so its key file is the one problem there.
        try await Self.makeCertificate(for: "b.test", certificate: directory.file("b.pem"), key: directory.file("b-key.pem"))
        try """
            edge:
              sites:
                - name: one
                  hosts: [a.test]
                  certificate_file: \(directory.file("none.pem"))
                  key_file: \(directory.file("key.pem"))
                  routes: [{path: /, upstreams: ["127.0.0.1:9000"]}]
                - name: two
                  hosts: [b.test]
                  certificate_file: \(directory.file("b.pem"))
                  key_file: \(folder)
                  routes: [{path: /, upstreams: ["127.0.0.1:9000"]}]
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await PortalProcess.run(["check", "--config", file], outputDirectory: directory.path)
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(file):5:25: site 'one': cannot read certificate file \(directory.file("none.pem")): "
            + "it does not exist"), "\(result.stderr)")
        #expect(result.stderr.contains("\(file):11:17: site 'two': cannot read private key file \(folder): it is a folder, not a file"),
                "\(result.stderr)")
        #expect(!result.stderr.contains("NSCocoaErrorDomain"))
    }

    @Test("check places a certificate warning at the line of the site's certificate_file")
    func certificateWarningPlaced() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-e2e")
        defer { directory.remove() }
        let file = directory.file("portal.yaml")
        try await Self.makeCertificate(for: "b.test", certificate: directory.file("b.pem"), key: directory.file("b-key.pem"))
        try """
            edge:
              sites:
                - name: other
                  hosts: [c.test]
                  certificate_file: \(directory.file("b.pem"))
                  key_file: \(directory.file("b-key.pem"))
                  routes: [{path: /, upstreams: ["127.0.0.1:9000"]}]
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await PortalProcess.run(["check", "--config", file, "--data-dir", directory.file("data")],
                                                 outputDirectory: directory.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("\(file):5:25: warning: site 'other': certificate \(directory.file("b.pem")) "
            + "does not cover 'c.test'"), "\(result.stderr)")
    }

    @Test("portal edge reload applies a new configuration and refuses a broken one")
    func edgeReload() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-e2e")
        defer { directory.remove() }
        let upstream = try await RecordingUpstream.start(responseBody: "extra route")
        defer { Task { await upstream.stop() } }
        let data = directory.file("data")
        let ports = try FreePort.allocate(count: 3)
        let file = directory.file("portal.yaml")
        func write(extraRoute: Bool, broken: Bool = false) throws {
            var text = "edge:\n  listen: [\"127.0.0.1\"]\n"
            if broken { text += "  http_port: [oops\n" }
            text += "  sites:\n    - name: portal\n      hosts: [\"*\"]\n      routes:\n"
            text += "        - {path: /, upstreams: [\"127.0.0.1:\(ports[2])\"]}\n"
            if extraRoute { text += "        - {path: /extra, upstreams: [\"127.0.0.1:\(upstream.port)\"]}\n" }
            try text.write(toFile: file, atomically: true, encoding: .utf8)
        }
        try write(extraRoute: false)
        let up = try PortalProcess(arguments: [
            "up", "--config", file, "--data-dir", data, "--http-port", "\(ports[0])", "--https-port", "\(ports[1])",
            "--app-port", "\(ports[2])",
        ], outputDirectory: directory.path)
        try up.start()
        defer { up.signal(SIGKILL) }
        let started = await up.waitForOutput(seconds: 90) { stdout, _ in stdout.contains("is running") }
        #expect(started, "\(up.stderr)")
        guard started else { return }
        let tls = TestTLS(trustedCertificateFile: DataDirectory(data).tlsDirectory + "/dev-cert.pem")
        let before = try await TestHTTPClient.request(port: ports[1], path: "/extra", tls: tls)
        #expect(before.body != "extra route")

        try write(extraRoute: true)
        let reloaded = try await PortalProcess.run(["edge", "reload", "--config", file, "--data-dir", data],
                                                   outputDirectory: directory.path)
        #expect(reloaded.status == 0, "\(reloaded.stderr)")
        #expect(reloaded.stdout.contains("edge reloaded"))
        let after = try await TestHTTPClient.request(port: ports[1], path: "/extra", tls: tls)
        #expect(after.body == "extra route")

        // Another file than the one the edge reads: refused, since a reload would not apply it.
        let other = directory.file("other.yaml")
        try FileManager.default.copyItem(atPath: file, toPath: other)
        let misdirected = try await PortalProcess.run(["edge", "reload", "--config", other, "--data-dir", data],
                                                      outputDirectory: directory.path)
        #expect(misdirected.status != 0)
        #expect(misdirected.stderr.contains("reads \(EdgeFileName.absolute(file)), not \(EdgeFileName.absolute(other))"),
                "\(misdirected.stderr)")

        // A broken file: `reload` itself refuses to parse it, and a SIGHUP leaves the edge as it was.
        try write(extraRoute: false, broken: true)
        let refused = try await PortalProcess.run(["edge", "reload", "--config", file, "--data-dir", data],
                                                  outputDirectory: directory.path)
        #expect(refused.status != 0)
        up.signal(SIGHUP)
        #expect(await up.waitForOutput(seconds: 15) { _, stderr in stderr.contains("reload refused") })
        let still = try await TestHTTPClient.request(port: ports[1], path: "/extra", tls: tls)
        #expect(still.body == "extra route")
        let errorLog = (try? String(contentsOfFile: data + "/logs/error.log", encoding: .utf8)) ?? ""
        #expect(errorLog.contains("reload refused"))
        #expect(errorLog.contains("[error]"))

        // SIGUSR1: the access log moved away by an outside tool is opened again.
        let accessLog = data + "/logs/access.log"
        try FileManager.default.moveItem(atPath: accessLog, toPath: accessLog + ".moved")
        let edgePID = try #require(Int32((try String(contentsOfFile: data + "/edge.pid", encoding: .utf8))
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(edgePID, SIGUSR1)
        // Requests until one is logged in a new file at the old path (the reopen and the log's
        // writer take their time on a busy machine).
        var reopened = ""
        for _ in 0..<50 where !reopened.contains("/after-reopen") {
            _ = try await TestHTTPClient.request(port: ports[1], path: "/after-reopen", tls: tls)
            try await Task.sleep(for: .milliseconds(200))
            reopened = (try? String(contentsOfFile: accessLog, encoding: .utf8)) ?? ""
        }
        #expect(reopened.contains("/after-reopen"))

        // A second edge on the same data folder would take over edge.pid: it refuses to start.
        try write(extraRoute: true)
        let second = try await PortalProcess.run(["edge", "--config", file, "--data-dir", data],
                                                 outputDirectory: directory.path)
        #expect(second.status != 0)
        #expect(second.stderr.contains("another edge (pid \(edgePID)) already runs"), "\(second.stderr)")
        let stillRecorded = try String(contentsOfFile: data + "/edge.pid", encoding: .utf8)
        #expect(stillRecorded.trimmingCharacters(in: .whitespacesAndNewlines) == "\(edgePID)")

        up.signal(SIGTERM)
        #expect(await up.waitForExit(seconds: 30) == 0)
    }

    /// A self-signed ECDSA certificate for `name`, valid for 30 days, and its key.
    static func makeCertificate(for name: String, certificate: String, key: String) async throws {
        let openssl = try await ExternalCommand.run([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-subj", "/CN=\(name)", "-addext", "subjectAltName=DNS:\(name)", "-days", "30",
            "-keyout", key, "-out", certificate])
        #expect(openssl.status == 0, "\(openssl.stderr)")
    }
}

/// Paths as the edge records them (absolute).
enum EdgeFileName {
    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}
