import Edge
import Foundation
import NIOCore
import PortalCore
import PortalTestSupport
import Testing

/// TLS behaviour checked with the `openssl` command-line client, as an operator would.
@Suite("Edge: TLS protocol, ciphers, resumption, certificate reload", .serialized)
struct EdgeTLSTests {
    /// Runs `openssl s_client` against the edge and returns what it printed.
    static func sClient(port: Int, arguments: [String], certificate: String) async throws -> String {
        try await OpenSSLTool.run(["s_client", "-connect", "127.0.0.1:\(port)", "-servername", "localhost",
                             "-CAfile", certificate] + arguments).output
    }

    @Test("TLS 1.2 sessions are resumed; TLS 1.1 and non-AEAD ciphers are refused")
    func protocolsAndResumption() async throws {
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: 9)])
        let certificate = edge.certificateFile
        let port = edge.httpsPort
        let resumed = try await Self.sClient(port: port, arguments: ["-tls1_2", "-reconnect"], certificate: certificate)
        let old = try await Self.sClient(port: port, arguments: ["-tls1_1"], certificate: certificate)
        let weak = try await Self.sClient(port: port, arguments: ["-tls1_2", "-cipher", "AES128-SHA"], certificate: certificate)
        let modern = try await Self.sClient(port: port, arguments: ["-tls1_3"], certificate: certificate)
        await edge.stop()
        #expect(resumed.contains("Reused, TLSv1.2"), "\(resumed.prefix(400))")
        #expect(resumed.contains("Verify return code: 0 (ok)"))
        #expect(old.contains("alert protocol version") || old.contains("no protocols available"))
        #expect(weak.contains("handshake failure") || weak.contains("no cipher"))
        #expect(modern.contains("TLSv1.3"))
    }

    @Test("the server's cipher order wins by default (AES-128-GCM first); clients choose when it is off")
    func serverCipherOrder() async throws {
        // The client lists AES-256 first, as OpenSSL does by default.
        let clientOrder = ["-ciphersuites", "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"]
        let tls12Order = ["-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256"]
        var printed: [Bool: (String, String)] = [:]
        for prefer in [true, false] {
            let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: 9)],
                                                   configure: { $0.tlsPreferServerCiphers = prefer })
            let certificate = edge.certificateFile
            let port = edge.httpsPort
            let tls13 = try await Self.sClient(port: port, arguments: ["-tls1_3"] + clientOrder, certificate: certificate)
            let tls12 = try await Self.sClient(port: port, arguments: tls12Order, certificate: certificate)
            await edge.stop()
            printed[prefer] = (tls13, tls12)
        }
        #expect(printed[true]?.0.contains("Cipher is TLS_AES_128_GCM_SHA256") == true, "\(printed[true]?.0.prefix(600) ?? "")")
        #expect(printed[true]?.1.contains("Cipher is ECDHE-ECDSA-AES128-GCM-SHA256") == true, "\(printed[true]?.1.prefix(600) ?? "")")
        #expect(printed[false]?.0.contains("Cipher is TLS_AES_256_GCM_SHA384") == true, "\(printed[false]?.0.prefix(600) ?? "")")
        #expect(printed[false]?.1.contains("Cipher is ECDHE-ECDSA-CHACHA20-POLY1305") == true, "\(printed[false]?.1.prefix(600) ?? "")")
    }

    @Test("a certificate replaced on disk is served after a reload, without a restart")
    func certificateReplacedOnReload() async throws {
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: 9)],
                                               reloader: { directory, http, https in
            var configuration = PortalConfiguration(dataDirectory: directory.path)
            configuration.edge.listen = ["127.0.0.1"]
            configuration.edge.httpPort = http
            configuration.edge.httpsPort = https
            configuration.edge.upstreams = ["127.0.0.1:9"]
            return configuration
        })
        let oldCertificate = try String(contentsOfFile: edge.certificateFile, encoding: .utf8)
        let oldCopy = edge.directory.file("old-cert.pem")
        try oldCertificate.write(toFile: oldCopy, atomically: true, encoding: .utf8)
        try DevelopmentCertificate(directory: DataDirectory(edge.directory.path).tlsDirectory).generate()
        await edge.server.reload()
        let withNew = try? await TestHTTPClient.request(port: edge.httpsPort, path: "/", tls: edge.tls)
        let withOld = try? await TestHTTPClient.request(port: edge.httpsPort, path: "/", tls: TestTLS(trustedCertificateFile: oldCopy))
        await edge.stop()
        #expect(withNew?.status == 502)
        #expect(withOld == nil)
    }

    @Test("IPv6 listeners serve too")
    func ipv6() async throws {
        let upstream = try await RecordingUpstream.start()
        let port = try FreePort.allocate()
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            var site = SiteSettings(name: "v6", hosts: ["*"], routes: [RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"])])
            site.redirectToHTTPS = false
            edge.sites = [site]
            edge.httpListeners = ["[::1]:\(port)", "127.0.0.1:\(port)"]
            edge.httpsListeners = []
        }
        let response = try await TestHTTPClient.request(host: "::1", port: port, path: "/", headers: [("Host", "[::1]")])
        let v4 = try await TestHTTPClient.request(host: "127.0.0.1", port: port, path: "/")
        await edge.stop()
        #expect(v4.status == 200)
        await upstream.stop()
        #expect(response.status == 200)
        #expect(upstream.requests.first?.header("X-Forwarded-For") == "::1")
    }
}
