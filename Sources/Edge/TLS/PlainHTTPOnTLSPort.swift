import NIOCore

/// First on an HTTPS listener: a client that speaks plain HTTP there (`http://host:443/`) gets
/// a `400` that says so, as Apache and nginx answer, instead of a silently closed connection.
/// A TLS connection starts with a handshake record (byte 0x16); a plain request starts with
/// an upper-case method. The handler leaves the pipeline after the first bytes.
final class PlainHTTPOnTLSPort: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    static let answer: String = {
        let body = "This port speaks HTTPS: a plain HTTP request was sent to it.\r\n"
        return "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
    }()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if let first = buffer.readableBytesView.first, first >= UInt8(ascii: "A"), first <= UInt8(ascii: "Z") {
            let channel = context.channel
            context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: Self.answer)))
                .whenComplete { _ in channel.close(promise: nil) }
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
