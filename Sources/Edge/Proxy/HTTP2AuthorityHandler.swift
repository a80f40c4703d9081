import NIOCore
import NIOHPACK
import NIOHTTP2

/// Before the HTTP/2 to HTTP/1 translation of a stream: makes `:authority` the request's host,
/// as RFC 9113 §8.3.1 asks. NIO's translation keeps `Host` when a request sends both (so a
/// `Host` naming another site would win) and gives up on a request that sends only `Host`
/// (which the RFC allows in place of `:authority`).
final class HTTP2AuthorityHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload

    private var sawHeaders = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !sawHeaders, case .headers(var headers) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        sawHeaders = true
        let authority = headers.headers.first(name: ":authority")
        let host = headers.headers.first(name: "host")
        switch (authority, host) {
        case (nil, let host?):
            headers.headers.add(name: ":authority", value: host)
        case (let authority?, let host?) where authority.lowercased() != host.lowercased():
            headers.headers.remove(name: "host")
        default:
            context.fireChannelRead(data)
            return
        }
        context.fireChannelRead(wrapInboundOut(.headers(headers)))
    }
}
