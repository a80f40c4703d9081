import FluentKit
import Foundation
import Logging
import NIOHTTP1
import PortalCore
import PortalData
import PortalTestSupport
import Testing

@Suite("portal up, as a user starts it", .serialized)
struct PortalUpTests {
    @Test("the whole path: HTTPS health, redirect, login, tasks, app crash and recovery, clean stop")
    func wholePath() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-e2e")
        defer { directory.remove() }
        let dataDirectory = directory.file("data")
        let ports = try FreePort.allocate(count: 3)
        let (httpPort, httpsPort, appPort) = (ports[0], ports[1], ports[2])
        let up = try PortalProcess.up(dataDirectory: dataDirectory, httpPort: httpPort, httpsPort: httpsPort,
                                      appPort: appPort, outputDirectory: directory.path)
        try up.start()
        defer { up.signal(SIGKILL) }

        let started = await up.waitForOutput(seconds: 90) { stdout, _ in stdout.contains("is running") }
        #expect(started, "portal up did not start:\n\(up.stdout)\n\(up.stderr)")
        guard started else { return }
        #expect(up.stdout.contains("https://localhost:\(httpsPort)/"))
        let email = try #require(Self.value(after: "E-mail:", in: up.stdout))
        let password = try #require(Self.value(after: "Password:", in: up.stdout))

        let certificate = DataDirectory(dataDirectory).tlsDirectory + "/dev-cert.pem"
        let tls = TestTLS(trustedCertificateFile: certificate)

        // Health through the HTTPS edge, verifying the generated certificate.
        let health = try await TestHTTPClient.request(port: httpsPort, path: "/health", tls: tls)
        #expect(health.status == 200)
        let version = try await PortalProcess.run(["version"], outputDirectory: directory.path)
        #expect(health.body == #"{"status":"ok","version":"\#(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines))","database":"ok"}"#)

        // Plain HTTP redirects with path and query.
        let redirect = try await TestHTTPClient.request(port: httpPort, path: "/tasks?status=open",
                                                        headers: [("Host", "localhost:\(httpPort)")])
        #expect(redirect.status == 301)
        #expect(redirect.header("Location") == "https://localhost:\(httpsPort)/tasks?status=open")

        // Log in with the one-time credentials and see the tasks.
        let loginPage = try await TestHTTPClient.request(port: httpsPort, path: "/login", tls: tls)
        let preSession = try #require(loginPage.header("Set-Cookie")?.split(separator: ";").first.map(String.init))
        let csrf = try #require(loginPage.body.range(of: "name=\"csrf_token\" value=\"").map {
            String(loginPage.body[$0.upperBound...].prefix { $0 != "\"" })
        })
        let form = "csrf_token=\(Self.encode(csrf))&email=\(Self.encode(email))&password=\(Self.encode(password))"
        let login = try await TestHTTPClient.request(
            port: httpsPort, method: .POST, path: "/login",
            headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", preSession),
                      ("Origin", "https://localhost:\(httpsPort)")], body: form, tls: tls)
        #expect(login.status == 303, "\(login.body.prefix(300)) cookie=\(preSession) token=\(csrf)")
        let cookie = try #require(login.header("Set-Cookie")?.split(separator: ";").first.map(String.init))
        #expect(login.header("Set-Cookie")?.contains("Secure") == true)

        try await Self.addTask(title: "Conferir <b>guias</b> de ICMS", dataDirectory: dataDirectory, email: email)
        let tasks = try await TestHTTPClient.request(port: httpsPort, path: "/tasks", headers: [("Cookie", cookie)], tls: tls)
        #expect(tasks.status == 200)
        #expect(tasks.body.contains("Bem-vindo ao Portal"))
        #expect(tasks.body.contains("Conferir &lt;b&gt;guias&lt;/b&gt; de ICMS"))

        // Kill the app: the edge answers 502, the supervisor restarts the app, requests work again.
        // The supervisor is held stopped while the app is down, so the outage lasts until the
        // edge has been seen answering it, however slow the machine is.
        let appPID = try #require(Self.lastPID(of: "app", in: up.stderr))
        up.signal(SIGSTOP)
        kill(appPID, SIGKILL)
        let outage = await Self.pollHealth(port: httpsPort, tls: tls, until: 502)
        up.signal(SIGCONT)
        #expect(outage.reached, "answers while the app was down: \(outage.seen)")
        let recovery = await Self.pollHealth(port: httpsPort, tls: tls, until: 200)
        #expect(recovery.reached, "answers after the supervisor resumed: \(recovery.seen)\n\(up.stderr.suffix(2000))")
        #expect(up.stderr.contains("app exited unexpectedly; restarting"))
        let again = try await TestHTTPClient.request(port: httpsPort, path: "/tasks", headers: [("Cookie", cookie)], tls: tls)
        #expect(again.status == 200)

        // Ctrl-C equivalent: everything stops, nothing is left behind.
        up.signal(SIGTERM)
        let status = await up.waitForExit(seconds: 30)
        #expect(status == 0)
        try await Task.sleep(for: .milliseconds(500))
        #expect(PortalProcess.processes(containing: dataDirectory).isEmpty)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dataDirectory + "/secrets")
        #expect(leftovers == ["session.key"])
    }

    @Test("a second start does not print credentials again")
    func secondStart() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-e2e")
        defer { directory.remove() }
        let dataDirectory = directory.file("data")
        for round in 0..<2 {
            let ports = try FreePort.allocate(count: 3)
            let up = try PortalProcess.up(dataDirectory: dataDirectory, httpPort: ports[0], httpsPort: ports[1],
                                          appPort: ports[2], outputDirectory: directory.path)
            try up.start()
            let started = await up.waitForOutput(seconds: 90) { stdout, _ in stdout.contains("is running") }
            #expect(started, "\(up.stderr)")
            #expect(up.stdout.contains("Password:") == (round == 0))
            up.signal(SIGINT)
            #expect(await up.waitForExit(seconds: 30) == 0)
        }
    }

    @Test("a port in use is named, with the process holding it")
    func portInUse() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-e2e")
        defer { directory.remove() }
        let holder = try await RecordingUpstream.start()
        defer { Task { await holder.stop() } }
        let ports = try FreePort.allocate(count: 2)
        let result = try await PortalProcess.run([
            "up", "--data-dir", directory.file("data"), "--http-port", "\(ports[0])",
            "--https-port", "\(holder.port)", "--app-port", "\(ports[1])",
        ], outputDirectory: directory.path)
        #expect(result.status != 0)
        #expect(result.stderr.contains("\(holder.port)"))
        #expect(result.stderr.contains("already in use by"))
        #expect(result.stderr.contains("pid \(getpid())"))
        #expect(result.stderr.contains("--https-port"))
        #expect(!result.stderr.contains("Stack"))
    }

    @Test("portal check: Syntax OK, or every error with file:line")
    func check() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-e2e")
        defer { directory.remove() }
        let good = directory.file("good.yaml")
        try "edge:\n  https_port: 9443\n".write(toFile: good, atomically: true, encoding: .utf8)
        let ok = try await PortalProcess.run(["check", "--config", good], outputDirectory: directory.path)
        #expect(ok.status == 0)
        #expect(ok.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "Syntax OK")

        let bad = directory.file("bad.yaml")
        try "edge:\n  https_port: many\n  colour: red\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let failed = try await PortalProcess.run(["check", "--config", bad], outputDirectory: directory.path)
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("\(bad):2:15: 'edge.https_port' must be a port number"))
        #expect(failed.stderr.contains("\(bad):3:3: unknown key 'edge.colour'"))

        let missing = try await PortalProcess.run(["check", "--config", directory.file("none.yaml")],
                                                  outputDirectory: directory.path)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("cannot read the configuration file"))
    }

    @Test("an unwritable data folder is one clear line")
    func unwritableDataDirectory() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-e2e")
        defer { directory.remove() }
        let blocker = directory.file("not-a-folder")
        try "x".write(toFile: blocker, atomically: true, encoding: .utf8)
        let result = try await PortalProcess.run(["up", "--data-dir", blocker + "/data"], outputDirectory: directory.path)
        #expect(result.status != 0)
        #expect(result.stderr.contains("data directory \(blocker)/data is not usable"))
        #expect(result.stderr.split(separator: "\n").count <= 2)
    }

    @Test("a broken configuration or a missing certificate stops `up` with one clear message")
    func badConfiguration() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-e2e")
        defer { directory.remove() }
        let broken = directory.file("broken.yaml")
        try "edge:\n  https_port: [\n".write(toFile: broken, atomically: true, encoding: .utf8)
        let syntax = try await PortalProcess.run(["up", "--config", broken, "--data-dir", directory.file("data")],
                                                 outputDirectory: directory.path)
        #expect(syntax.status != 0)
        #expect(syntax.stderr.contains("\(broken):"))
        #expect(syntax.stderr.contains("YAML syntax error"))

        let missing = directory.file("missing-cert.yaml")
        try """
            edge:
              certificate_file: \(directory.file("nope.pem"))
              key_file: \(directory.file("nope-key.pem"))
            """.write(toFile: missing, atomically: true, encoding: .utf8)
        let ports = try FreePort.allocate(count: 3)
        let certificate = try await PortalProcess.run([
            "up", "--config", missing, "--data-dir", directory.file("data"), "--http-port", "\(ports[0])",
            "--https-port", "\(ports[1])", "--app-port", "\(ports[2])",
        ], outputDirectory: directory.path)
        #expect(certificate.status != 0)
        #expect(certificate.stderr.contains("cannot read certificate file \(directory.file("nope.pem"))"))
        #expect(!certificate.stdout.contains("is running"))
    }

    static func value(after label: String, in text: String) -> String? {
        guard let line = text.split(separator: "\n").first(where: { $0.contains(label) }),
              let range = line.range(of: label)
        else { return nil }
        return line[range.upperBound...].trimmingCharacters(in: .whitespaces)
    }

    /// Asks the edge for `/health` every 50 ms for up to 30 s until it answers `status`; returns
    /// whether it did and the answers seen on the way (each change of status, and errors).
    static func pollHealth(port: Int, tls: TestTLS, until status: Int) async -> (reached: Bool, seen: [String]) {
        var seen: [String] = []
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            do {
                let response = try await TestHTTPClient.request(port: port, path: "/health", tls: tls,
                                                                timeout: .seconds(5))
                if seen.last != "\(response.status)" { seen.append("\(response.status)") }
                if response.status == status { return (true, seen) }
            } catch {
                seen.append("error: \(error)")
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return (false, seen)
    }

    static func lastPID(of role: String, in log: String) -> Int32? {
        log.split(separator: "\n").last { $0.contains("started \(role)") }
            .flatMap { line in line.range(of: "pid=").map { line[$0.upperBound...] } }
            .flatMap { Int32($0.prefix { $0.isNumber }) }
    }

    static func encode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value
    }

    /// Adds a task through the data layer, as another app instance would.
    static func addTask(title: String, dataDirectory: String, email: String) async throws {
        var logger = Logger(label: "test.e2e")
        logger.logLevel = .critical
        let database = try PortalDatabase.open(PortalConfiguration(dataDirectory: dataDirectory), logger: logger)
        let accounts = AccountStore(database: try database.database())
        let admin = try #require(try await accounts.user(id: 1))
        #expect(admin.email == email)
        try await TaskStore(database: try database.database()).create(
            title: title, details: "", status: .pending, dueDate: nil, assigneeID: admin.id)
        await database.shutdown()
    }
}
