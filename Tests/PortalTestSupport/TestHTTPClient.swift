import Foundation
public import NIOCore
public import NIOHTTP1
import NIOPosix
public import NIOSSL

/// A response as the test client received it.
public struct HTTPTestResponse: Sendable {
    public let status: Int
    public let headers: [(String, String)]
    public let body: String
    /// The body as bytes, when asked for.
    public var rawBody: [UInt8]? = nil

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// Every value of header `name`.
    public func headers(_ name: String) -> [String] {
        headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
    }
}

/// TLS settings for the test client: trust exactly the given PEM certificate, verify the name.
public struct TestTLS: Sendable {
    public var trustedCertificateFile: String
    public var serverName: String
    public var maximumVersion: TLSVersion?

    public init(trustedCertificateFile: String, serverName: String = "localhost", maximumVersion: TLSVersion? = nil) {
        self.trustedCertificateFile = trustedCertificateFile
        self.serverName = serverName
        self.maximumVersion = maximumVersion
    }
}

/// A small HTTP/1.1 client for tests: one request per connection, nothing hidden, full
/// certificate verification when TLS is used.
/// A response whose body is kept as bytes (for compressed or binary bodies).
public struct HTTPTestBytesResponse: Sendable {
    public let status: Int
    public let headers: [(String, String)]
    public let bytes: [UInt8]

    /// The body as UTF-8 text.
    public var body: String { String(decoding: bytes, as: UTF8.self) }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

public enum TestHTTPClient {
    /// Like `request`, keeping the body as bytes.
    public static func requestBytes(
        host: String = "127.0.0.1", port: Int, method: HTTPMethod = .GET, path: String,
        headers: [(String, String)] = [], body: String? = nil, tls: TestTLS? = nil,
        timeout: TimeAmount = .seconds(10)
    ) async throws -> HTTPTestBytesResponse {
        let response = try await request(host: host, port: port, method: method, path: path, headers: headers,
                                         body: body, tls: tls, timeout: timeout, keepBytes: true)
        return HTTPTestBytesResponse(status: response.status, headers: response.headers, bytes: response.rawBody ?? [])
    }

    public static func request(
        host: String = "127.0.0.1", port: Int, method: HTTPMethod = .GET, path: String,
        headers: [(String, String)] = [], body: String? = nil, tls: TestTLS? = nil,
        timeout: TimeAmount = .seconds(10), keepBytes: Bool = false
    ) async throws -> HTTPTestResponse {
        let promise = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: HTTPTestResponse.self)
        let sslContext: NIOSSLContext?
        if let tls {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .file(tls.trustedCertificateFile)
            configuration.certificateVerification = .fullVerification
            if let maximum = tls.maximumVersion {
                configuration.maximumTLSVersion = maximum
                configuration.minimumTLSVersion = .tlsv1
            }
            sslContext = try NIOSSLContext(configuration: configuration)
        } else {
            sslContext = nil
        }
        let serverName = tls?.serverName
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                do {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: sslContext, serverHostname: serverName))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .connect(host: host, port: port).get()
        } catch {
            promise.fail(error)
            throw error
        }
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "Host", value: serverName.map { "\($0):\(port)" } ?? "\(host):\(port)")
        for (name, value) in headers {
            if name.lowercased() == "host" { head.headers.remove(name: "Host") }
            head.headers.add(name: name, value: value)
        }
        if let body { head.headers.replaceOrAdd(name: "Content-Length", value: String(body.utf8.count)) }
        head.headers.add(name: "Connection", value: "close")
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: body))), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            promise.fail(TestClientError.timedOut)
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        let response = try await promise.futureResult.get()
        try? await channel.close()
        return response
    }
}

public enum TestClientError: Error {
    case timedOut
    case closedEarly
}

final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<HTTPTestResponse>
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()

    init(promise: EventLoopPromise<HTTPTestResponse>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body(var buffer):
            body.writeBuffer(&buffer)
        case .end:
            guard let head else { return }
            promise.succeed(HTTPTestResponse(status: Int(head.status.code), headers: head.headers.map { ($0.name, $0.value) },
                                             body: String(buffer: body), rawBody: Array(body.readableBytesView)))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(TestClientError.closedEarly)
        context.fireChannelInactive()
    }
}
