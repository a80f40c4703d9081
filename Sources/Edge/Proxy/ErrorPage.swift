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

    /// True when the client asks for JSON more than for HTML: `application/json` named with a
    /// q-value above 0, and `text/html` not named or ranked lower (a wildcard does not count
    /// against a type named outright, so `application/json, */*` gets JSON).
    static func prefersJSON(_ accept: String?) -> Bool {
        guard let accept else { return false }
        var json: Double?
        var html: Double?
        for range in accept.split(separator: ",") {
            var parts = range.split(separator: ";")[...]
            guard let type = parts.popFirst()?.trimmingASCIISpaces().lowercased() else { continue }
            var quality = 1.0
            for parameter in parts {
                let pair = parameter.trimmingASCIISpaces()
                if pair.lowercased().hasPrefix("q=") {
                    quality = min(max(Double(pair.dropFirst(2)) ?? 0, 0), 1)
                }
            }
            if type == "application/json" { json = max(json ?? 0, quality) }
            if type == "text/html" { html = max(html ?? 0, quality) }
        }
        guard let json, json > 0 else { return false }
        return html.map { json > $0 } ?? true
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
