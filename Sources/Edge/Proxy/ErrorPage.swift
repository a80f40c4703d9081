import NIOCore
import NIOHTTP1

/// The small page the edge answers with when it cannot get a response from upstream:
/// JSON for API clients (`Accept: application/json`), HTML for browsers.
enum ErrorPage {
    static func response(status: HTTPResponseStatus, accept: String?, allocator: ByteBufferAllocator)
        -> (HTTPHeaders, ByteBuffer) {
        let (title, explanation) = texts(for: status)
        let wantsJSON = prefersJSON(accept)
        var headers = HTTPHeaders()
        let body: String
        if wantsJSON {
            headers.add(name: "Content-Type", value: "application/json")
            body = #"{"error":"\#(status.code)","message":"\#(explanation)"}"#
        } else {
            headers.add(name: "Content-Type", value: "text/html; charset=utf-8")
            body = """
            <!DOCTYPE html>
            <html lang="pt-BR"><head><meta charset="utf-8"><title>\(status.code) \(title)</title></head>
            <body><h1>\(title)</h1><p>\(explanation)</p></body></html>

            """
        }
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        return (headers, allocator.buffer(string: body))
    }

    /// True when the client asks for JSON more than for HTML.
    static func prefersJSON(_ accept: String?) -> Bool {
        guard let accept = accept?.lowercased() else { return false }
        return accept.contains("application/json") && !accept.contains("text/html")
    }

    /// User-facing texts are in Brazilian Portuguese.
    static func texts(for status: HTTPResponseStatus) -> (String, String) {
        switch status.code {
        case 502: ("Serviço indisponível", "O portal não respondeu. Tente novamente em alguns instantes.")
        case 504: ("Tempo esgotado", "O portal demorou demais para responder. Tente novamente.")
        case 503: ("Serviço indisponível", "O portal está temporariamente indisponível.")
        default: (status.reasonPhrase, "A requisição não pôde ser atendida.")
        }
    }
}
