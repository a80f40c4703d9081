import NIOHTTP1

/// The framing fields of an HTTP/1.x response head, set by the edge itself rather than by NIO's
/// encoder (whose automatic framing copies the whole header list on every response, even when
/// nothing changes). Same rules as the encoder's: no `Content-Length` or `Transfer-Encoding` on
/// an answer that cannot have a body (1xx, 204, 304); a length wins over `Transfer-Encoding`;
/// HTTP/1.1 without a length is chunked; HTTP/1.0 without one ends with the connection.
enum ResponseFraming {
    static func frame(_ headers: inout HTTPHeaders, status: HTTPResponseStatus, version: HTTPVersion) {
        if !status.mayHaveResponseBody {
            if headers.contains(name: "content-length") { headers.remove(name: "content-length") }
            if headers.contains(name: "transfer-encoding") { headers.remove(name: "transfer-encoding") }
        } else if headers.contains(name: "content-length") {
            if headers.contains(name: "transfer-encoding") { headers.remove(name: "transfer-encoding") }
        } else if version.major == 1 && version.minor >= 1 {
            if headers.first(name: "transfer-encoding") != "chunked" {
                headers.replaceOrAdd(name: "Transfer-Encoding", value: "chunked")
            }
        }
    }
}
