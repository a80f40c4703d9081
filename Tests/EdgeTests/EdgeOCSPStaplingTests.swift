@testable import Edge
import Foundation
import Logging
import NIOCore
import PortalCore
import PortalTestSupport
import Testing

/// OCSP stapling checked with `openssl s_client -status`, against a throwaway CA whose OCSP
/// responder (`openssl ocsp`) runs on loopback.
@Suite("Edge: OCSP stapling", .serialized)
struct EdgeOCSPStaplingTests {
    static let upstream = [HostAndPort(host: "127.0.0.1", port: 9)]

    static func status(port: Int, authority: OCSPTestAuthority) async throws -> String {
        let ca = authority.caCertificateFile
        return try await EdgeTLSTests.sClient(port: port, arguments: ["-status"], certificate: ca)
    }

    /// Polls until the edge staples (the first answer is fetched after start), for at most 10 s.
    static func stapledStatus(port: Int, authority: OCSPTestAuthority) async throws -> String {
        var printed = ""
        for _ in 0..<50 {
            printed = try await status(port: port, authority: authority)
            if printed.contains("OCSP Response Status: successful") { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        return printed
    }

    @Test("an answer is fetched from the certificate's responder, checked, kept, and stapled")
    func fetchedAndStapled() async throws {
        let authority = try OCSPTestAuthority.make(responderPort: try FreePort.allocate())
        defer { authority.remove() }
        try authority.startResponder()
        let edge = try await EdgeFixture.start(upstreams: Self.upstream) { edge in
            edge.certificateFile = authority.leafCertificateFile
            edge.keyFile = authority.leafKeyFile
        }
        let printed = try await Self.stapledStatus(port: edge.httpsPort, authority: authority)
        let kept = (try? FileManager.default.contentsOfDirectory(
            atPath: DataDirectory(edge.directory.path).tlsDirectory + "/ocsp")) ?? []
        await edge.stop()
        #expect(printed.contains("OCSP Response Status: successful"), "\(printed.prefix(1500))")
        #expect(printed.contains("Cert Status: good"))
        #expect(printed.contains("Verify return code: 0 (ok)"))
        #expect(kept.count == 1 && kept.first?.hasSuffix(".der") == true, "\(kept)")
    }

    @Test("a revoked certificate's answer is never stapled")
    func revokedIsNotStapled() async throws {
        let authority = try OCSPTestAuthority.make(responderPort: try FreePort.allocate(), revoked: true)
        defer { authority.remove() }
        try authority.startResponder()
        let edge = try await EdgeFixture.start(upstreams: Self.upstream) { edge in
            edge.certificateFile = authority.leafCertificateFile
            edge.keyFile = authority.leafKeyFile
        }
        // Time for the fetch to happen (and be refused).
        try await Task.sleep(for: .seconds(2))
        let printed = try await Self.status(port: edge.httpsPort, authority: authority)
        await edge.stop()
        #expect(printed.contains("OCSP response: no response sent"), "\(printed.prefix(1500))")
        #expect(!printed.contains("Cert Status: revoked"))
    }

    @Test("ocsp_response_file is stapled as given, without asking the responder")
    func responseFileIsStapled() async throws {
        let authority = try OCSPTestAuthority.make(responderPort: try FreePort.allocate())
        defer { authority.remove() }
        try authority.startResponder()
        let file = authority.directory + "/answer.der"
        try authority.writeResponse(to: file)
        authority.stopResponder()
        let edge = try await EdgeFixture.start(upstreams: Self.upstream) { edge in
            edge.certificateFile = authority.leafCertificateFile
            edge.keyFile = authority.leafKeyFile
            edge.ocspResponseFile = file
        }
        let printed = try await Self.status(port: edge.httpsPort, authority: authority)
        await edge.stop()
        #expect(printed.contains("OCSP Response Status: successful"), "\(printed.prefix(1500))")
        #expect(printed.contains("Cert Status: good"))
    }

    @Test("an answer for another certificate is refused with a warning that names the file")
    func answerForAnotherCertificate() async throws {
        let first = try OCSPTestAuthority.make(responderPort: try FreePort.allocate())
        let second = try OCSPTestAuthority.make(responderPort: try FreePort.allocate())
        defer {
            first.remove()
            second.remove()
        }
        try first.startResponder()
        let file = first.directory + "/answer.der"
        try first.writeResponse(to: file)
        first.stopResponder()
        let directory = try TemporaryDirectory(prefix: "portal-ocsp")
        defer { directory.remove() }
        var configuration = PortalConfiguration(dataDirectory: directory.path)
        configuration.edge.listen = ["127.0.0.1"]
        configuration.edge.httpPort = try FreePort.allocate()
        configuration.edge.httpsPort = try FreePort.allocate()
        configuration.edge.upstreams = ["127.0.0.1:9"]
        configuration.edge.certificateFile = second.leafCertificateFile
        configuration.edge.keyFile = second.leafKeyFile
        configuration.edge.ocspResponseFile = file
        let runtime = try EdgeRuntime.resolve(configuration, checkOnly: false)
        runtime.accessLog?.close()
        let warning = runtime.warnings.first { $0.contains("OCSP response file \(file) is not stapled") }
        #expect(warning?.contains("does not cover this certificate") == true, "\(runtime.warnings)")

        configuration.edge.ocspResponseFile = directory.file("missing.der")
        #expect(throws: EdgeConfigurationError.self) { try EdgeRuntime.resolve(configuration) }
    }

    @Test("a kept answer stays while valid when the responder is down, and is dropped once expired")
    func expiredAnswerIsDropped() async throws {
        let authority = try OCSPTestAuthority.make(responderPort: try FreePort.allocate())
        defer { authority.remove() }
        let pem = try String(contentsOfFile: authority.leafCertificateFile, encoding: .utf8)
        let subject = try #require(try OCSPSubject(chainPEM: pem, certificateFile: authority.leafCertificateFile,
                                                   evenWithoutResponder: false))
        let data = try TemporaryDirectory(prefix: "portal-ocsp-cache")
        defer { data.remove() }
        let cache = OCSPStapleCache(dataDirectory: DataDirectory(data.path))
        try FileManager.default.createDirectory(atPath: cache.directory, withIntermediateDirectories: true)
        try authority.startResponder()
        try authority.writeResponse(to: cache.path(for: subject))
        authority.stopResponder()
        var logger = Logger(label: "test.ocsp")
        logger.logLevel = .critical
        let fetcher = OCSPFetcher(cache: cache, logger: logger, timeout: .seconds(1))

        // Past its refresh time but still valid (the test responder's answers last 5 minutes).
        let stillValid = await fetcher.refresh([subject], now: Date().addingTimeInterval(200))
        #expect(!stillValid.changed)
        #expect(FileManager.default.fileExists(atPath: cache.path(for: subject)))
        #expect(stillValid.nextCheck <= Date().addingTimeInterval(500))

        let expired = await fetcher.refresh([subject], now: Date().addingTimeInterval(86_400))
        #expect(expired.changed)
        #expect(!FileManager.default.fileExists(atPath: cache.path(for: subject)))
    }

    @Test("the OCSP request names the certificate by issuer hashes and serial, as responders expect")
    func requestShape() async throws {
        let authority = try OCSPTestAuthority.make(responderPort: try FreePort.allocate())
        defer { authority.remove() }
        let pem = try String(contentsOfFile: authority.leafCertificateFile, encoding: .utf8)
        let subject = try #require(try OCSPSubject(chainPEM: pem, certificateFile: authority.leafCertificateFile,
                                                   evenWithoutResponder: false))
        #expect(subject.responderURL == "http://127.0.0.1:\(authority.responderPort)")
        let request = try subject.requestDER()
        // SEQUENCE { SEQUENCE { SEQUENCE OF { SEQUENCE { CertID } } } } with SHA-1 (20-byte) hashes.
        #expect(request.first == 0x30)
        #expect(request.count > 2 * 20 + subject.serial.count)
        // A leaf without its issuer cannot be asked about.
        let leafOnly = String(pem[..<(pem.range(of: "-----END CERTIFICATE-----")?.upperBound ?? pem.endIndex)])
        #expect(throws: OCSPError.self) {
            _ = try OCSPSubject(chainPEM: leafOnly, certificateFile: "leaf.pem", evenWithoutResponder: false)
        }
    }
}
