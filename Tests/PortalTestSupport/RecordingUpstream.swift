import Foundation
import NIOConcurrencyHelpers
public import NIOCore
import NIOHTTP1
import NIOPosix

/// A request as an upstream received it.
public struct RecordedRequest: Sendable {
    public let method: String
    public let uri: String
    public let headers: [(String, String)]
    public let body: String
    /// Which TCP connection (numbered from 1) carried it.
    public let connection: Int
    /// The trailer fields after a chunked body.
    public var trailers: [(String, String)] = []

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

/// An answer a test script chooses for one request (see `RecordingUpstream.start(responder:)`).
public struct ScriptedResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: String
    /// How long the upstream waits before answering.
    public var delay: TimeAmount
    /// Send the body chunked, without `Content-Length`.
    public var chunked: Bool

    public init(status: Int = 200, headers: [(String, String)] = [], body: String, delay: TimeAmount = .zero,
                chunked: Bool = false) {
        self.status = status
        self.headers = headers
        self.body = body
        self.delay = delay
        self.chunked = chunked
    }
}

/// Chooses the answer to a request; the number is how many requests (this one included) the
/// upstream has received so far.
public typealias UpstreamResponder = @Sendable (_ request: RecordedRequest, _ number: Int) -> ScriptedResponse

/// An HTTP/1.1 server on 127.0.0.1 that records every request it receives and answers
/// `200` with a small body (or `delay` later), so tests can prove what reached the upstream.
public final class RecordingUpstream: Sendable {
    public let port: Int
    private let channel: any Channel
    private let state: NIOLockedValueBox<[RecordedRequest]>
    private let connections: NIOLockedValueBox<Int>

    public var requests: [RecordedRequest] { state.withLockedValue { $0 } }
    public var connectionCount: Int { connections.withLockedValue { $0 } }

    public static func start(responseBody: String = "hello from upstream",
                             contentType: String = "text/plain",
                             extraHeaders: [(String, String)] = [],
                             delay: TimeAmount = .zero, port: Int = 0,
                             responder: UpstreamResponder? = nil) async throws -> RecordingUpstream {
        let state = NIOLockedValueBox<[RecordedRequest]>([])
        let connections = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let number = connections.withLockedValue { count -> Int in
                    count += 1
                    return count
                }
                do {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(RecordingHandler(
                        state: state, connection: number, responseBody: responseBody, contentType: contentType,
                        extraHeaders: extraHeaders, delay: delay, responder: responder))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        return RecordingUpstream(channel: channel, state: state, connections: connections)
    }

    private init(channel: any Channel, state: NIOLockedValueBox<[RecordedRequest]>, connections: NIOLockedValueBox<Int>) {
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
        self.state = state
        self.connections = connections
    }

    public func stop() async {
        try? await channel.close()
    }
}

final class RecordingHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let state: NIOLockedValueBox<[RecordedRequest]>
    private let connection: Int
    private let responseBody: String
    private let contentType: String
    private let extraHeaders: [(String, String)]
    private let delay: TimeAmount
    private let responder: UpstreamResponder?
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()

    init(state: NIOLockedValueBox<[RecordedRequest]>, connection: Int, responseBody: String, contentType: String,
         extraHeaders: [(String, String)], delay: TimeAmount, responder: UpstreamResponder? = nil) {
        self.responder = responder
        self.contentType = contentType
        self.state = state
        self.connection = connection
        self.responseBody = responseBody
        self.extraHeaders = extraHeaders
        self.delay = delay
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
        case .body(var buffer):
            body.writeBuffer(&buffer)
        case .end(let trailers):
            guard let head else { return }
            let recorded = RecordedRequest(method: head.method.rawValue, uri: head.uri,
                                           headers: head.headers.map { ($0.name, $0.value) },
                                           body: String(buffer: body), connection: connection,
                                           trailers: trailers.map { $0.map { ($0.name, $0.value) } } ?? [])
            let number = state.withLockedValue { requests -> Int in
                requests.append(recorded)
                return requests.count
            }
            let scripted = responder?(recorded, number)
            let payload = scripted?.body ?? (head.uri == "/echo-uri" ? head.uri : responseBody)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: contentType)
            if scripted?.chunked == true {
                headers.add(name: "Transfer-Encoding", value: "chunked")
            } else {
                headers.add(name: "Content-Length", value: String(payload.utf8.count))
            }
            for (name, value) in scripted?.headers ?? extraHeaders { headers.add(name: name, value: value) }
            let status = HTTPResponseStatus(statusCode: scripted?.status ?? 200)
            let respond = {
                context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status,
                                                                          headers: headers))), promise: nil)
                if head.method != .HEAD {
                    context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: payload)))), promise: nil)
                }
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            }
            let wait = scripted?.delay ?? delay
            if wait == .zero {
                respond()
            } else {
                context.eventLoop.assumeIsolated().scheduleTask(in: wait) { respond() }
            }
        }
    }
}
