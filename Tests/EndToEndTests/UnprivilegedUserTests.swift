import Foundation
import PortalCore
import PortalTestSupport
import Testing

/// Production runs the edge and the app as an ordinary user (the systemd units grant only
/// `CAP_NET_BIND_SERVICE`), so a socket option that only root may set would break every
/// connection there while every test run as root still passed.
@Suite("portal up as an unprivileged user", .serialized)
struct UnprivilegedUserTests {
    /// The user the test drops to when it runs as root: `nobody`.
    static let unprivilegedID = 65534

    @Test("portal up run by an ordinary user serves health over HTTPS and redirects plain HTTP")
    func servesWithoutPrivileges() async throws {
        var launcher: [String] = []
        if geteuid() == 0 {
            // Running as root: drop to `nobody` with util-linux's setpriv (skipped without it,
            // except in CI, where the missing tool fails the test).
            guard ExternalTool.shouldRun(needing: ["setpriv"]) else {
                print("skipped: setpriv (util-linux) is needed to drop root for this test")
                return
            }
            let setpriv = try #require(ExternalTool.find("setpriv"), "setpriv (util-linux) is not installed")
            launcher = [setpriv, "--reuid=\(Self.unprivilegedID)", "--regid=\(Self.unprivilegedID)", "--clear-groups"]
        }
        let directory = try TemporaryDirectory(prefix: "portal-e2e")
        defer { directory.remove() }
        // The unprivileged user writes the data folder and the captured output.
        chmod(directory.path, 0o777)
        let dataDirectory = directory.file("data")
        let ports = try FreePort.allocate(count: 3)
        let (httpPort, httpsPort, appPort) = (ports[0], ports[1], ports[2])
        let up = try PortalProcess.up(dataDirectory: dataDirectory, httpPort: httpPort, httpsPort: httpsPort,
                                      appPort: appPort, outputDirectory: directory.path, launcher: launcher)
        for path in [up.stdoutPath, up.stderrPath] { chmod(path, 0o666) }
        try up.start()
        defer { up.signal(SIGKILL) }

        let started = await up.waitForOutput(seconds: 90) { stdout, _ in stdout.contains("is running") }
        #expect(started, "portal up did not start:\n\(up.stdout)\n\(up.stderr)")
        guard started else { return }
        if !launcher.isEmpty {
            let owner = try FileManager.default.attributesOfItem(atPath: dataDirectory)[.ownerAccountID] as? Int
            #expect(owner == Self.unprivilegedID, "the data folder should belong to the unprivileged user")
        }
        let tls = TestTLS(trustedCertificateFile: DataDirectory(dataDirectory).tlsDirectory + "/dev-cert.pem")
        let health = try await TestHTTPClient.request(port: httpsPort, path: "/health", tls: tls)
        #expect(health.status == 200, "\(health.body)\n\(up.stderr)")
        #expect(health.body.contains(#""database":"ok""#))
        let redirect = try await TestHTTPClient.request(port: httpPort, path: "/health",
                                                        headers: [("Host", "localhost:\(httpPort)")])
        #expect(redirect.status == 301)
        up.signal(SIGTERM)
        #expect(await up.waitForExit(seconds: 30) == 0, "\(up.stderr)")
    }
}
