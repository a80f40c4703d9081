import Foundation
import NIOHTTP1

/// A complete HTTP/1.1 answer written as bytes, for moments when no HTTP codec can carry it:
/// a request head that never arrived in time (`408`), plain HTTP on a TLS port (`400`). It
/// carries the same header rules as every other answer (`Server`, the security headers).
struct RawAnswer {
    let status: HTTPResponseStatus
    /// Plain text for the client, in Portuguese like the edge's error pages.
    let body: String
    /// Headers of this answer's own (`Retry-After`).
    var extraHeaders: HTTPHeaders = [:]

    /// The answer's bytes, closing the connection, with `policy`'s headers.
    func text(policy: HeaderPolicy, now: Int = time(nil)) -> String {
        var headers = extraHeaders
        headers.add(name: "Date", value: HTTPDate.format(now))
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Connection", value: "close")
        policy.apply(to: &headers)
        var text = "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\n"
        for header in headers { text += "\(header.name): \(header.value)\r\n" }
        return text + "\r\n" + body
    }
}
