import Foundation
import NIOCore
import NIOHTTP1

/// First on an HTTPS listener: a client that speaks plain HTTP there (`http://host:443/`) gets
/// a `400` that says so, as Apache and nginx answer, instead of a silently closed connection;
/// the request is logged as sent. A TLS connection starts with a handshake record (byte 0x16);
/// a plain request starts with an upper-case method. The handler leaves the pipeline after the
/// first bytes.
final class PlainHTTPOnTLSPort: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    static let answer = RawAnswer(status: .badRequest,
                                  body: "Esta porta atende apenas HTTPS: a requisição chegou em HTTP simples. Use https://.\n")

    private let store: EdgeRuntimeStore

    init(store: EdgeRuntimeStore) {
        self.store = store
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if let first = buffer.readableBytesView.first, first >= UInt8(ascii: "A"), first <= UInt8(ascii: "Z") {
            let runtime = store.current.runtime
            var line = RequestLineProgress()
            line.add(buffer.readableBytesView)
            // The answer travels in plain text: the plain-HTTP header rules (no HSTS) apply.
            let text = Self.answer.text(policy: runtime.defaultHTTPHeaders)
            runtime.accessLog?.record(AccessLogEntry(
                clientAddress: context.channel.remoteAddress?.ipAddress ?? "-", time: time(nil), method: "-", uri: "-",
                version: "-", status: 400, bytesSent: Self.answer.body.utf8.count, referer: nil, userAgent: nil,
                upstream: nil, durationNanoseconds: 0, rawRequestLine: line.text))
            let channel = context.channel
            context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: text)))
                .whenComplete { _ in channel.close(promise: nil) }
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
