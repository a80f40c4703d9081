@testable import Edge
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOHTTP1
import PortalCore
import PortalTestSupport
import Testing
import SwiftASN1
import X509

@Suite("Edge building blocks")
struct EdgeUnitTests {
    @Test("the upstream head keeps Host and appends to X-Forwarded-For")
    func forwardedHead() {
        var head = HTTPRequestHead(version: .http1_0, method: .GET, uri: "/x?y=1")
        head.headers.add(name: "Host", value: "portal.example.com.br")
        head.headers.add(name: "X-Forwarded-For", value: "198.51.100.1")
        head.headers.add(name: "Connection", value: "keep-alive, X-Drop")
        head.headers.add(name: "X-Drop", value: "1")
        head.headers.add(name: "Upgrade", value: "h2c")
        let upstream = ForwardedRequest(scheme: "https", localPort: 443).upstreamHead(for: head, clientAddress: "203.0.113.7")
        #expect(upstream.version == .http1_1)
        #expect(upstream.uri == "/x?y=1")
        #expect(upstream.headers.first(name: "Host") == "portal.example.com.br")
        #expect(upstream.headers.first(name: "X-Forwarded-For") == "198.51.100.1, 203.0.113.7")
        #expect(upstream.headers.first(name: "X-Forwarded-Proto") == "https")
        #expect(upstream.headers.first(name: "X-Forwarded-Host") == "portal.example.com.br")
        #expect(upstream.headers.first(name: "X-Forwarded-Port") == "443")
        #expect(!upstream.headers.contains(name: "X-Drop"))
        #expect(!upstream.headers.contains(name: "Connection"))
        #expect(!upstream.headers.contains(name: "Upgrade"))
    }

    @Test("cookies sent as separate fields (HTTP/2) reach the upstream as one line; a client's Forwarded is dropped unless the edge sets its own")
    func cookiesAndForwarded() {
        var head = HTTPRequestHead(version: .init(major: 2, minor: 0), method: .GET, uri: "/")
        head.headers.add(name: "cookie", value: "session=abc123")
        head.headers.add(name: "accept", value: "*/*")
        head.headers.add(name: "cookie", value: "csrf=xyz")
        head.headers.add(name: "forwarded", value: "for=198.51.100.9;proto=https")
        let plain = ForwardedRequest(scheme: "https", localPort: 443).upstreamHead(for: head, clientAddress: "203.0.113.7")
        #expect(plain.headers["cookie"] == ["session=abc123; csrf=xyz"])
        #expect(!plain.headers.contains(name: "forwarded"))
        let withForwarded = ForwardedRequest(scheme: "https", localPort: 443, forwardedHeader: true)
            .upstreamHead(for: head, clientAddress: "203.0.113.7")
        #expect(withForwarded.headers["forwarded"] == ["for=198.51.100.9;proto=https, for=203.0.113.7;proto=https"])
    }

    @Test("every field the client names in Connection stays behind, Cookie and Content-Type too")
    func connectionListedFieldsRemoved() {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/")
        head.headers.add(name: "host", value: "portal.test")
        head.headers.add(name: "Connection", value: "Cookie, content-type, X-Custom")
        head.headers.add(name: "Cookie", value: "v1")
        head.headers.add(name: "Content-Type", value: "text/plain")
        head.headers.add(name: "X-Custom", value: "1")
        head.headers.add(name: "Accept", value: "*/*")
        let upstream = ForwardedRequest(scheme: "http", localPort: 80).upstreamHead(for: head, clientAddress: "203.0.113.7")
        for name in ["cookie", "content-type", "x-custom", "connection"] {
            #expect(!upstream.headers.contains(name: name), "\(name): \(upstream.headers)")
        }
        #expect(upstream.headers["accept"] == ["*/*"])
    }

    @Test("a client's Forwarded that breaks RFC 7239 is dropped, so it cannot swallow the edge's element")
    func brokenForwardedDropped() {
        let valid = ["for=192.0.2.60;proto=http;by=203.0.113.43", "for=\"[2001:db8:cafe::17]:4711\"", "For=\"a\\\"b\", for=x",
                     "for=a;;proto=b", "for=a,,for=b", " for=a ; proto=b "]
        let broken = ["for=\"1.2.3.4", "for=1.2.3.4;by=\"", "for", "for=", "=x", "for=a b", "for=a;x", "for=\"a\"b", "\"x\"",
                      "for=\u{7F}", ",", ""]
        for value in valid { #expect(ForwardedSyntax.isValid(value), "\(value)") }
        for value in broken { #expect(!ForwardedSyntax.isValid(value), "\(value)") }
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")
        head.headers.add(name: "host", value: "portal.test")
        head.headers.add(name: "forwarded", value: "for=\"1.2.3.4")
        let forwarded = ForwardedRequest(scheme: "http", localPort: 80, forwardedHeader: true)
            .upstreamHead(for: head, clientAddress: "203.0.113.7")
        #expect(forwarded.headers["forwarded"] == ["for=203.0.113.7;proto=http;host=\"portal.test\""])
    }

    @Test("Accept-Encoding q-values rank the codings: brotli only when named and not ranked below gzip, identity when ranked above both")
    func codingPreference() {
        var settings = EdgeSettings()
        settings.brotli = true
        let cases: [(String?, String?)] = [
            (nil, nil), ("identity", nil), ("gzip", "gzip"), ("x-gzip", "gzip"), ("*", "gzip"), ("br", "br"),
            ("gzip, br", "br"), ("br;q=0.1, gzip", "gzip"), ("gzip;q=0.5, br;q=0.5", "br"), ("br;q=0, gzip;q=0.8", "gzip"),
            ("gzip;q=0, *;q=1", nil), ("gzip;q=0, br", "br"), ("BR;Q=1.0, GZIP;Q=0.9", "br"), ("gzip;q=abc", nil),
            ("deflate , gzip ; q=0.5", "gzip"), ("X-GZIP", "gzip"), ("x-gzip;q=0", nil), ("*;q=0", nil),
            ("identity, *;q=0.5", nil), ("identity, gzip;q=0.5", nil), ("identity;q=0.5, gzip", "gzip"),
            ("identity;q=0.5, br;q=0.5, gzip;q=0.4", "br"), ("gzip;q=0.2, x-gzip;q=0", "gzip"), ("", nil), (",;,", nil),
        ]
        for (header, expected) in cases {
            #expect(CompressionDecision.coding(header, settings: settings) == expected, "\(header ?? "none")")
        }
        settings.brotli = false
        #expect(CompressionDecision.coding("br, gzip;q=0.1", settings: settings) == "gzip")
    }

    @Test("certificate checks name the file at fault, send a repeated intermediate once, and know IP address names")
    func certificateChains() throws {
        let chain = try TestCertificate.chain(leafNames: [.dnsName("a.test"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))])
        // The leaf alone plus the right intermediate in the chain file: fine, and 127.0.0.1 is covered.
        let good = CertificateInspector.inspect(pem: chain.leaf, file: "leaf.pem", chainPEM: chain.intermediate,
                                                chainFile: "chain.pem", hosts: ["a.test", "127.0.0.1"])
        #expect(good.errors.isEmpty, "\(good.errors)")
        // An intermediate past its date is an error of its own, not only the leaf.
        let later = CertificateInspector.inspect(pem: chain.leaf, file: "leaf.pem", chainPEM: chain.intermediate,
                                                 chainFile: "chain.pem", hosts: ["a.test"], now: Date().addingTimeInterval(40 * 86_400))
        #expect(later.errors.contains { $0.hasPrefix("certificate 1 of chain.pem expired on") }, "\(later.errors)")
        #expect(good.warnings.isEmpty, "\(good.warnings)")
        #expect(good.certificates.count == 2)
        // The chain file holds the root instead of the intermediate: the chain file is named.
        let wrong = CertificateInspector.inspect(pem: chain.leaf, file: "leaf.pem", chainPEM: chain.root,
                                                 chainFile: "chain.pem", hosts: ["a.test"])
        #expect(wrong.errors.count == 1)
        #expect(wrong.errors.first?.contains("certificate 1 of leaf.pem is not issued by certificate 1 of chain.pem") == true,
                "\(wrong.errors)")
        #expect(wrong.errors.first?.contains("chain.pem must start with the intermediate") == true)
        // A full chain in the certificate file and the same intermediate in the chain file: sent once, with a warning.
        let twice = CertificateInspector.inspect(pem: chain.leaf + "\n" + chain.intermediate, file: "full.pem",
                                                 chainPEM: chain.intermediate, chainFile: "chain.pem", hosts: ["a.test"])
        #expect(twice.errors.isEmpty, "\(twice.errors)")
        #expect(twice.certificates.count == 2)
        #expect(twice.warnings.contains { $0.contains("chain.pem repeats a certificate already in full.pem") })
        let pem = try twice.chainPEM()
        #expect(pem.components(separatedBy: "BEGIN CERTIFICATE").count == 3)
    }

    @Test("Combined Log Format escapes quotes and control bytes")
    func combinedLogFormat() {
        let entry = AccessLogEntry(clientAddress: "203.0.113.5", time: 0, method: "GET", uri: "/a\"b", version: "HTTP/1.1",
                                   status: 404, bytesSent: 0, referer: nil, userAgent: "x\u{1}y", upstream: nil,
                                   durationNanoseconds: 0)
        let line = CombinedLogFormat.line(for: entry)
        #expect(line.hasPrefix("203.0.113.5 - - ["))
        #expect(line.hasSuffix("] \"GET /a\\\"b HTTP/1.1\" 404 - \"-\" \"x\\x01y\""))
    }

    @Test("JSON log lines give a refused request's parts only as they were sent")
    func jsonLogOfRawLine() throws {
        var entry = AccessLogEntry(clientAddress: "203.0.113.5", time: 0, method: "GET", uri: "-", version: "HTTP/1.1",
                                   status: 400, bytesSent: 0, referer: nil, userAgent: nil, upstream: nil,
                                   durationNanoseconds: 0, rawRequestLine: "G(T /x HTTP/1.1")
        func object(_ entry: AccessLogEntry) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(JSONLogFormat.line(for: entry).utf8)) as? [String: Any])
        }
        let shaped = try object(entry)
        #expect(shaped["method"] as? String == "G(T")
        #expect(shaped["uri"] as? String == "/x")
        #expect(shaped["request"] as? String == "G(T /x HTTP/1.1")
        entry.rawRequestLine = "\u{16}\u{3}\u{1}junk"
        let shapeless = try object(entry)
        #expect(shapeless["method"] is NSNull)
        #expect(shapeless["uri"] is NSNull)
        #expect(shapeless["protocol"] is NSNull)
        entry.rawRequestLine = nil
        #expect(try object(entry)["method"] as? String == "GET")
    }

    @Test("the development certificate has the right names, key and lifetime")
    func developmentCertificate() throws {
        let directory = NSTemporaryDirectory() + "portal-cert-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificate = DevelopmentCertificate(directory: directory)
        let now = Date()
        guard case .created = try certificate.ensure(now: now) else {
            Issue.record("expected a new certificate")
            return
        }
        let parsedCertificate = try parsed(certificate)
        let lifetime = parsedCertificate.notValidAfter.timeIntervalSince(now)
        #expect(abs(lifetime - 90 * 86_400) < 120)
        let names = try #require(try parsedCertificate.extensions.subjectAlternativeNames)
        #expect(names.contains(.dnsName("localhost")))
        #expect(names.count == 3)
        let attributes = try FileManager.default.attributesOfItem(atPath: certificate.keyFile)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        // Kept while more than 30 days remain, renewed after.
        guard case .kept = try certificate.ensure(now: now.addingTimeInterval(59 * 86_400)) else {
            Issue.record("expected the certificate to be kept")
            return
        }
        guard case .renewed = try certificate.ensure(now: now.addingTimeInterval(61 * 86_400)) else {
            Issue.record("expected the certificate to be renewed")
            return
        }
    }

    @Test("a key that does not match its certificate is refused")
    func mismatchedKey() throws {
        let first = NSTemporaryDirectory() + "portal-cert-\(UUID().uuidString)"
        let second = NSTemporaryDirectory() + "portal-cert-\(UUID().uuidString)"
        for directory in [first, second] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        defer {
            try? FileManager.default.removeItem(atPath: first)
            try? FileManager.default.removeItem(atPath: second)
        }
        let a = DevelopmentCertificate(directory: first)
        let b = DevelopmentCertificate(directory: second)
        try a.generate()
        try b.generate()
        let error = try #require(throws: TLSSetupError.self) {
            _ = try ServerTLS.makeContext(certificateFile: a.certificateFile, keyFile: b.keyFile)
        }
        #expect(error.description.contains("does not match"))
        #expect(throws: TLSSetupError.self) {
            _ = try ServerTLS.makeContext(certificateFile: "/nonexistent.pem", keyFile: a.keyFile)
        }
    }

    private func parsed(_ certificate: DevelopmentCertificate) throws -> Certificate {
        try Certificate(pemEncoded: String(contentsOfFile: certificate.certificateFile, encoding: .utf8))
    }
}

@Suite("Edge: configuration check")
struct EdgeCheckTests {
    @Test("a check without the development certificate warns that `portal edge` alone would not start")
    func missingDevelopmentCertificate() throws {
        let directory = try TemporaryDirectory(prefix: "portal-check")
        defer { directory.remove() }
        var configuration = PortalConfiguration(dataDirectory: directory.path)
        configuration.edge.upstreams = ["127.0.0.1:9000"]
        let runtime = try EdgeRuntime.resolve(configuration, checkOnly: true)
        #expect(runtime.warnings.contains { $0.contains("no certificate yet") && $0.contains("certificate_file and key_file") })
        #expect(throws: (any Error).self) { try EdgeRuntime.resolve(configuration) }
    }

    @Test("listeners named twice are warned about, one port for both HTTP and HTTPS is refused")
    func listenerMistakes() throws {
        let directory = try TemporaryDirectory(prefix: "portal-check")
        defer { directory.remove() }
        var configuration = PortalConfiguration(dataDirectory: directory.path)
        configuration.edge.httpListeners = ["127.0.0.1:8080", "127.0.0.1:8081", "127.0.0.1:8080", "127.0.0.1:8080"]
        configuration.edge.httpsListeners = []
        configuration.edge.certificateFile = "/etc/ssl/unused.pem"
        configuration.edge.keyFile = "/etc/ssl/unused.key"
        configuration.edge.sites = [SiteSettings(name: "a", hosts: ["*"], routes: [RouteSettings(path: "/", upstreams: ["127.0.0.1:9000"])])]
        let runtime = try EdgeRuntime.resolve(configuration, checkOnly: true)
        #expect(runtime.warnings.filter { $0.contains("names 127.0.0.1:8080 more than once") }.count == 1)
        #expect(runtime.warnings.contains { $0.contains("edge.certificate_file and edge.key_file are not used once sites") })
        configuration.edge.httpsListeners = ["127.0.0.1:8081"]
        let error = try #require(throws: EdgeConfigurationError.self) { try EdgeRuntime.resolve(configuration, checkOnly: true) }
        #expect(error.problems.contains { $0.contains("127.0.0.1:8081 is both an HTTP and an HTTPS listener") })
    }
}

@Suite("Edge: log retention")
struct LogRetentionTests {
    @Test("a log that cannot be written says so once a minute; one moved away rotates into a new file")
    func writeFailuresAndMovedFiles() throws {
        let full = try LogFile(path: "/dev/full", rotation: .none)
        let reports = NIOLockedValueBox<[String]>([])
        full.onWriteFailure = { message in reports.withLockedValue { $0.append(message) } }
        for _ in 0..<3 { full.write("lost\n") }
        #expect(reports.withLockedValue { $0.count } == 1)
        #expect(reports.withLockedValue { $0.first?.contains("cannot write to log file /dev/full") } == true)

        let directory = try TemporaryDirectory(prefix: "portal-logs")
        defer { directory.remove() }
        let log = try LogFile(path: directory.file("access.log"), rotation: LogRotation(maxBytes: 10, daily: false, keepDays: 30))
        log.write("0123456789\n")
        try FileManager.default.moveItem(atPath: directory.file("access.log"), toPath: directory.file("moved.log"))
        log.write("abcdefghij\n")
        #expect(try String(contentsOfFile: directory.file("access.log"), encoding: .utf8) == "abcdefghij\n")
    }

    @Test("a batch of lines that passes the size limit fills each file up to it, line by line")
    func sizeRotationFillsFiles() throws {
        let directory = try TemporaryDirectory(prefix: "portal-logs")
        defer { directory.remove() }
        let log = try LogFile(path: directory.file("access.log"), rotation: LogRotation(maxBytes: 30, daily: false, keepDays: 30))
        log.write("line-0000\n")
        log.write((1...10).map { String(format: "line-%04d\n", $0) }.joined())
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("access.log") }
        var contents: [String] = []
        for file in files { contents.append(try String(contentsOfFile: directory.file(file), encoding: .utf8)) }
        let lines = contents.flatMap { $0.split(separator: "\n") }.sorted()
        #expect(lines == (0...10).map { String(format: "line-%04d", $0)[...] }, "no line lost or split")
        #expect(files.count == 4, "\(files)")
        #expect(contents.filter { $0.utf8.count == 30 }.count == 3, "three full files: \(contents)")
        #expect(contents.allSatisfy { $0.utf8.count <= 30 })
    }

    @Test("an error-log entry is one line, whatever its message holds")
    func errorLogOneLine() throws {
        let directory = try TemporaryDirectory(prefix: "portal-logs")
        defer { directory.remove() }
        let file = try ErrorLogFile(path: directory.file("error.log"), settings: EdgeSettingsRotation(maxBytes: 0, daily: false, keepDays: 30))
        let handler = ErrorLogHandler(label: "test", file: file)
        handler.log(event: LogEvent(level: .error, message: "reload refused:\nfirst problem\nsecond problem", metadata: nil,
                                    source: "test", file: #fileID, function: #function, line: #line))
        file.flush()
        let text = try String(contentsOfFile: directory.file("error.log"), encoding: .utf8)
        #expect(text.split(separator: "\n").count == 1)
        #expect(text.contains("reload refused: | first problem | second problem"))
    }

    @Test("the error log moves to a new path and keeps writing; a path that cannot be opened changes nothing")
    func errorLogMoves() throws {
        let directory = try TemporaryDirectory(prefix: "portal-logs")
        defer { directory.remove() }
        let rotation = EdgeSettingsRotation(maxBytes: 0, daily: false, keepDays: 30)
        let log = try ErrorLogFile(path: directory.file("error.log"), settings: rotation)
        log.write("first\n")
        try log.move(to: directory.file("moved/error.log"), settings: rotation)
        log.write("second\n")
        #expect(throws: (any Error).self) { try log.move(to: "/proc/no-such-place/error.log", settings: rotation) }
        log.write("third\n")
        log.flush()
        #expect(log.path == directory.file("moved/error.log"))
        #expect(try String(contentsOfFile: directory.file("error.log"), encoding: .utf8) == "first\n")
        #expect(try String(contentsOfFile: directory.file("moved/error.log"), encoding: .utf8) == "second\nthird\n")
    }

    @Test("only the edge's own rotated files are deleted when old; other files beside the log stay")
    func ownFilesOnly() throws {
        let directory = try TemporaryDirectory(prefix: "portal-logs")
        defer { directory.remove() }
        let names = ["access.log.20200101-000000", "access.log.20200101-000000-2", "access.log.bak",
                     "access.log.20200101-000000.gz", "access.log.keepme", "access.log.2020"]
        let old = Date(timeIntervalSince1970: 1_577_836_800)
        for name in names {
            try "x".write(toFile: directory.file(name), atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: directory.file(name))
        }
        let log = try LogFile(path: directory.file("access.log"), rotation: LogRotation(maxBytes: 0, daily: true, keepDays: 1))
        log.removeExpired()
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: directory.path))
        #expect(left == ["access.log", "access.log.bak", "access.log.20200101-000000.gz", "access.log.keepme", "access.log.2020"])
    }

    @Test("error pages come as JSON only when the client ranks JSON above HTML", arguments: [
        ("application/json", true), ("application/json, text/plain, */*", true), ("application/json;q=0", false),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false), ("*/*", false),
        ("application/json, text/html;q=0.5", true), ("text/html, application/json", false),
        ("APPLICATION/JSON ; q=0.7", true), ("", false),
    ] as [(String, Bool)])
    func errorPageFormat(_ example: (String, Bool)) {
        #expect(ErrorPage.prefersJSON(example.0) == example.1, "\(example.0)")
    }

    @Test("an HTTP/1.0 request without Host goes up as HTTP/1.1 with the upstream's address as Host")
    func hostForHTTP10() {
        let head = HTTPRequestHead(version: .http1_0, method: .GET, uri: "/")
        let upstream = ForwardedRequest(scheme: "http", localPort: 80)
            .upstreamHead(for: head, clientAddress: "203.0.113.7", upstream: HostAndPort(host: "127.0.0.1", port: 9000))
        #expect(upstream.version == .http1_1)
        #expect(upstream.headers[canonicalForm: "host"] == ["127.0.0.1:9000"])
        #expect(upstream.headers.first(name: "X-Forwarded-Host") == nil)
    }

    @Test("the certificate gauge counts down between scrapes, and a site that is gone loses it")
    func certificateGauge() {
        let metrics = EdgeMetrics()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        metrics.certificatesInForce([(site: "portal", notAfter: start.addingTimeInterval(30 * 86_400)),
                                     (site: "old", notAfter: start.addingTimeInterval(86_400))])
        let first = metrics.render(now: start)
        let later = metrics.render(now: start.addingTimeInterval(10 * 86_400))
        #expect(first.contains("portal_edge_certificate_expiry_days{site=\"portal\"} 30.0"), "\(first)")
        #expect(later.contains("portal_edge_certificate_expiry_days{site=\"portal\"} 20.0"), "\(later)")
        metrics.certificatesInForce([(site: "portal", notAfter: start.addingTimeInterval(90 * 86_400))])
        let reloaded = metrics.render(now: start)
        #expect(reloaded.contains("portal_edge_certificate_expiry_days{site=\"portal\"} 90.0"))
        #expect(!reloaded.contains("site=\"old\""))
    }
}
