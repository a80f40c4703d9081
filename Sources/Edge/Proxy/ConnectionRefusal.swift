import NIOCore
import NIOHTTP1

/// Turns away a connection accepted past `edge.max_connections`, cleanly: a plain HTTP client
/// gets `503 Service Unavailable` with `Retry-After`, a TLS client an orderly end of the
/// connection. Either way the socket is shut with a short lingering close, so what the client
/// already sent is read and dropped instead of being answered by a reset, and the refused
/// connection holds its descriptor for at most a few seconds.
final class ConnectionRefusal: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    /// Seconds a refused client is told to wait before trying again.
    static let retryAfterSeconds = 5
    private static let quietLimit = TimeAmount.seconds(1)
    private static let totalLimit = TimeAmount.seconds(3)

    /// The answer's bytes for plain HTTP, nil on a TLS listener.
    private let answer: String?

    init(plainHTTPAnswerWith policy: HeaderPolicy?) {
        answer = policy.map { policy in
            var headers = HTTPHeaders()
            headers.add(name: "Retry-After", value: String(Self.retryAfterSeconds))
            return RawAnswer(status: .serviceUnavailable,
                             body: "O servidor está com muitas conexões abertas. Tente novamente em instantes.\n",
                             extraHeaders: headers).text(policy: policy)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        if let answer {
            context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: answer))).whenComplete { _ in
                LingeringClose.start(on: channel, quietLimit: Self.quietLimit, totalLimit: Self.totalLimit)
            }
        } else {
            LingeringClose.start(on: channel, quietLimit: Self.quietLimit, totalLimit: Self.totalLimit)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Dropped: nothing of a refused connection is served.
    }
}
