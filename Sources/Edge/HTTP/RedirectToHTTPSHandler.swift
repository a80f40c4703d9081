import Foundation
import NIOCore
import NIOHTTP1

/// Answers every request on the plain-HTTP listener with `301` to the same path and query
/// on HTTPS (the seed's section 9, option 1).
final class RedirectToHTTPSHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let httpsPort: Int
    private let fallbackHost: String
    private let accessLog: AccessLog?
    private var requestHead: HTTPRequestHead?
    private var requests = 0
    private let maxKeepAliveRequests: Int

    init(httpsPort: Int, fallbackHost: String, maxKeepAliveRequests: Int, accessLog: AccessLog?) {
        self.httpsPort = httpsPort
        self.fallbackHost = fallbackHost
        self.maxKeepAliveRequests = maxKeepAliveRequests
        self.accessLog = accessLog
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            requestHead = head
        case .body:
            break
        case .end:
            guard let head = requestHead else { return }
            requestHead = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        requests += 1
        let location = Self.location(for: head, httpsPort: httpsPort, fallbackHost: fallbackHost)
        let body = "<!DOCTYPE html>\n<html lang=\"pt-BR\"><head><meta charset=\"utf-8\"><title>301</title></head>"
            + "<body><p>Este endereço mudou para <a href=\"\(HTMLEscape.escape(location))\">HTTPS</a>.</p></body></html>\n"
        let keepAlive = head.isKeepAlive && requests < maxKeepAliveRequests
        var headers = HTTPHeaders()
        headers.add(name: "Location", value: location)
        headers.add(name: "Content-Type", value: "text/html; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let version = head.version.minor == 0 ? HTTPVersion.http1_0 : HTTPVersion.http1_1
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: .movedPermanently,
                                                             headers: headers))), promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))),
                          promise: nil)
        }
        let channel = context.channel
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            done.whenComplete { _ in channel.close(promise: nil) }
        }
        accessLog?.record(AccessLogEntry(
            clientAddress: context.channel.remoteAddress?.ipAddress ?? "-", time: time(nil),
            method: head.method.rawValue, uri: head.uri,
            version: "HTTP/\(head.version.major).\(head.version.minor)", status: 301,
            bytesSent: head.method == .HEAD ? 0 : body.utf8.count,
            referer: head.headers.first(name: "referer"), userAgent: head.headers.first(name: "user-agent"),
            upstream: nil, durationNanoseconds: 0))
    }

    /// `https://<host>[:port]<path and query>`; a `Host` that is not a plain host name is replaced
    /// by the configured name, so the redirect cannot be pointed elsewhere by header tricks.
    static func location(for head: HTTPRequestHead, httpsPort: Int, fallbackHost: String) -> String {
        let host = head.headers.first(name: "host").flatMap(HostHeader.hostPart) ?? fallbackHost
        let port = httpsPort == 443 ? "" : ":\(httpsPort)"
        let target = head.uri.hasPrefix("/") ? head.uri : "/"
        return "https://\(host)\(port)\(target)"
    }
}
