import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import PortalTestSupport
import Synchronization

/// A failed step of `OCSPTestAuthority`: the command and what it printed.
struct OCSPTestAuthorityError: Error, CustomStringConvertible {
    let command: String
    let output: String
    var description: String { "`\(command)` failed: \(output)" }
}

/// A throwaway certificate authority made with the `openssl` command-line tool, whose leaf
/// certificate names an OCSP responder on 127.0.0.1 that `startResponder()` runs.
///
/// `openssl ocsp -port` (OpenSSL 3.0) listens on every address, so the responder is a small
/// HTTP server bound to 127.0.0.1 that answers each request with a one-shot `openssl ocsp` run.
final class OCSPTestAuthority: Sendable {
    let directory: String
    let caCertificateFile: String
    /// The leaf PEM followed by the CA PEM: the chain a server serves.
    let leafCertificateFile: String
    let leafKeyFile: String
    let responderPort: Int
    private let caKeyFile: String
    private let leafOnlyFile: String
    private let responder = Mutex<(any Channel)?>(nil)

    private init(directory: String, responderPort: Int) {
        self.directory = directory
        self.caCertificateFile = OCSPTestAuthority.path(directory, "ca.pem")
        self.caKeyFile = OCSPTestAuthority.path(directory, "ca-key.pem")
        self.leafCertificateFile = OCSPTestAuthority.path(directory, "leaf-chain.pem")
        self.leafOnlyFile = OCSPTestAuthority.path(directory, "leaf.pem")
        self.leafKeyFile = OCSPTestAuthority.path(directory, "leaf-key.pem")
        self.responderPort = responderPort
    }

    /// Makes a CA and a leaf for localhost and 127.0.0.1 (EC P-256, valid 2 days) whose AIA names
    /// http://127.0.0.1:<responderPort>; the CA's index marks the leaf valid, or revoked.
    static func make(responderPort: Int, revoked: Bool = false) throws -> OCSPTestAuthority {
        let directory = try TemporaryDirectory(prefix: "portal-ocsp")
        let authority = OCSPTestAuthority(directory: directory.path, responderPort: responderPort)
        do { try authority.create(revoked: revoked) } catch {
            authority.remove()
            throw error
        }
        return authority
    }

    private func create(revoked: Bool) throws {
        let newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        try Self.openssl(["req", "-x509"] + newKey + ["-keyout", caKeyFile, "-out", caCertificateFile, "-days", "2",
                         "-subj", "/CN=Portal OCSP Test CA",
                         "-addext", "basicConstraints=critical,CA:TRUE",
                         "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"])
        let request = Self.path(directory, "leaf.csr")
        let extensions = Self.path(directory, "leaf.ext")
        try Self.openssl(["req", "-new"] + newKey + ["-keyout", leafKeyFile, "-out", request, "-subj", "/CN=localhost"])
        try ["subjectAltName=DNS:localhost,IP:127.0.0.1",
             "authorityInfoAccess=OCSP;URI:http://127.0.0.1:\(responderPort)",
             "basicConstraints=CA:FALSE", "keyUsage=digitalSignature", "extendedKeyUsage=serverAuth", ""]
            .joined(separator: "\n").write(toFile: extensions, atomically: true, encoding: .utf8)
        try Self.openssl(["x509", "-req", "-in", request, "-CA", caCertificateFile, "-CAkey", caKeyFile,
                          "-set_serial", "0x1001", "-days", "2", "-extfile", extensions, "-out", leafOnlyFile])
        let chain = try String(contentsOfFile: leafOnlyFile, encoding: .utf8)
            + String(contentsOfFile: caCertificateFile, encoding: .utf8)
        try chain.write(toFile: leafCertificateFile, atomically: true, encoding: .utf8)
        // One line as `openssl ca` writes it: status, expiry, revocation time, serial, file, subject.
        let now = Date()
        let fields = [revoked ? "R" : "V", Self.indexTime(now.addingTimeInterval(2 * 86_400)),
                      revoked ? Self.indexTime(now) : "", "1001", "unknown", "/CN=localhost"]
        try (fields.joined(separator: "\t") + "\n")
            .write(toFile: Self.path(directory, "index.txt"), atomically: true, encoding: .utf8)
    }

    /// Starts the responder on 127.0.0.1:<responderPort>; returns once it accepts TCP connections.
    func startResponder() throws {
        guard responder.withLock({ $0 == nil }) else { return }
        let directory = self.directory
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(OCSPRequestHandler(directory: directory))
                }
            }
            .bind(host: "127.0.0.1", port: responderPort).wait()
        responder.withLock { $0 = channel }
        for _ in 0..<50 {
            if Self.accepts(port: responderPort) { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        stopResponder()
        throw OCSPTestAuthorityError(command: "connect 127.0.0.1:\(responderPort)", output: "nothing accepted within 5 s")
    }

    /// Stops the responder; safe to call twice or without a start.
    func stopResponder() {
        let channel = responder.withLock { current -> (any Channel)? in
            defer { current = nil }
            return current
        }
        try? channel?.close().wait()
    }

    /// Asks the running responder for the leaf's status and writes the DER response to `path`.
    func writeResponse(to path: String) throws {
        try Self.openssl(["ocsp", "-issuer", caCertificateFile, "-cert", leafOnlyFile,
                          "-url", "http://127.0.0.1:\(responderPort)", "-CAfile", caCertificateFile,
                          "-no_nonce", "-timeout", "5", "-respout", path])
    }

    /// Stops the responder and deletes the directory.
    func remove() {
        stopResponder()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Answers one DER OCSP request from the CA's index with a one-shot `openssl ocsp` run,
    /// signed by the CA itself; `-nmin 5` gives the response a nextUpdate.
    fileprivate static func sign(_ request: Data, in directory: String) throws -> Data {
        let name = UUID().uuidString
        let requestFile = path(directory, "\(name)-request.der")
        let responseFile = path(directory, "\(name)-response.der")
        defer { for file in [requestFile, responseFile] { try? FileManager.default.removeItem(atPath: file) } }
        try request.write(to: URL(fileURLWithPath: requestFile))
        let ca = path(directory, "ca.pem")
        try openssl(["ocsp", "-index", path(directory, "index.txt"), "-CA", ca, "-rsigner", ca,
                     "-rkey", path(directory, "ca-key.pem"), "-nmin", "5", "-reqin", requestFile, "-respout", responseFile])
        return try Data(contentsOf: URL(fileURLWithPath: responseFile))
    }

    /// Runs `openssl` with `arguments`; throws with its output when it exits non-zero.
    private static func openssl(_ arguments: [String]) throws {
        let (status, output) = try OpenSSLTool.runWaiting(arguments)
        guard status == 0 else {
            throw OCSPTestAuthorityError(command: "openssl " + arguments.joined(separator: " "), output: output)
        }
    }

    private static func path(_ directory: String, _ name: String) -> String {
        (directory as NSString).appendingPathComponent(name)
    }

    /// A time as index.txt holds it: UTC, YYMMDDHHMMSSZ.
    private static func indexTime(_ date: Date) -> String {
        // ISO 8601 in UTC ("2026-11-27T08:14:54Z") without separators or the century.
        String(ISO8601DateFormatter().string(from: date).filter(\.isNumber).dropFirst(2)) + "Z"
    }

    /// Whether a TCP connection to 127.0.0.1:`port` succeeds.
    private static func accepts(port: Int) -> Bool {
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connectTimeout(.seconds(1))
        guard let channel = try? bootstrap.connect(host: "127.0.0.1", port: port).wait() else { return false }
        channel.close(promise: nil)
        return true
    }
}

/// Answers OCSP over HTTP: POST carries the DER request as the body, GET base64 in the path.
/// Signing runs on NIO's thread pool, and each connection is closed after one answer.
private final class OCSPRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let directory: String
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()

    init(directory: String) { self.directory = directory }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
        case .body(var buffer):
            body.writeBuffer(&buffer)
        case .end:
            guard let head else { return }
            let request = head.method == .GET
                ? Data(base64Encoded: String(head.uri.dropFirst()).removingPercentEncoding ?? "") ?? Data()
                : Data(body.readableBytesView)
            let directory = self.directory
            NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) {
                try OCSPTestAuthority.sign(request, in: directory)
            }.assumeIsolated().whenComplete { result in
                switch result {
                case .success(let response): self.respond(context, head, .ok, response)
                case .failure(let error): self.respond(context, head, .internalServerError, Data("\(error)".utf8))
                }
            }
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: HTTPResponseStatus,
                         _ payload: Data) {
        let headers = HTTPHeaders([("Content-Type", status == .ok ? "application/ocsp-response" : "text/plain"),
                                   ("Content-Length", String(payload.count)), ("Connection", "close")])
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))),
                      promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: payload)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
