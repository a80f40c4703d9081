import Edge
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import PortalCore
import PortalTestSupport
import Testing

/// The response cache (mod_cache, nginx's `proxy_cache`) seen from a client, over HTTP/1.1 and
/// HTTP/2, with an upstream that numbers its answers so a stored answer is told from a new one.
@Suite("Edge: response cache", .serialized)
struct EdgeCacheTests {
    /// Answers by path; each body carries the upstream's request count.
    static let responder: UpstreamResponder = { request, number in
        let path = request.uri.split(separator: "?").first.map(String.init) ?? request.uri
        switch path {
        case "/page", "/app/page":
            return ScriptedResponse(headers: [("Cache-Control", "max-age=60"), ("ETag", "\"v1\""),
                                              ("Content-Type", "text/html")],
                                    body: "<p>resposta \(number)</p>" + String(repeating: "<i>relatório</i>", count: 40))
        case "/private":
            return ScriptedResponse(headers: [("Cache-Control", "private, max-age=60")], body: "privada \(number)")
        case "/no-store":
            return ScriptedResponse(headers: [("Cache-Control", "no-store")], body: "sem cache \(number)")
        case "/cookie":
            return ScriptedResponse(headers: [("Cache-Control", "max-age=60"), ("Set-Cookie", "s=1")], body: "cookie \(number)")
        case "/public":
            return ScriptedResponse(headers: [("Cache-Control", "public, max-age=60")], body: "pública \(number)")
        case "/short":
            return ScriptedResponse(headers: [("Cache-Control", "max-age=60"), ("Age", "59")], body: "curta \(number)")
        case "/expires":
            return ScriptedResponse(headers: [("Expires", "Fri, 01 Jan 2100 00:00:00 GMT")], body: "expira \(number)")
        case "/vary":
            let language = request.header("Accept-Language") ?? "-"
            return ScriptedResponse(headers: [("Cache-Control", "max-age=60"), ("Vary", "Accept-Language")],
                                    body: "idioma \(language) \(number)")
        case "/big":
            return ScriptedResponse(headers: [("Cache-Control", "max-age=60")], body: String(repeating: "x", count: 4_096) + "\(number)")
        case "/chunked":
            return ScriptedResponse(headers: [("Cache-Control", "max-age=60")], body: "em partes \(number)", chunked: true)
        case "/missing":
            return ScriptedResponse(status: 404, headers: [("Cache-Control", "max-age=60"), ("ETag", "\"m\"")],
                                    body: "não existe \(number)")
        case "/empty":
            return ScriptedResponse(status: 204, headers: [("Cache-Control", "max-age=60")], body: "")
        case "/error":
            return ScriptedResponse(status: 500, headers: [("Cache-Control", "max-age=60")], body: "erro \(number)")
        default:
            return ScriptedResponse(body: "sem instruções \(number)")
        }
    }

    @Test("fresh responses are served from memory; validators, credentials, Vary, limits and lifetimes respected",
          arguments: ["--http1.1", "--http2"])
    func cache(protocolFlag: String) async throws {
        let upstream = try await RecordingUpstream.start(contentType: "text/plain", responder: Self.responder)
        let logs = try TemporaryDirectory(prefix: "portal-cache-log")
        defer { logs.remove() }
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            edge.accessLog = logs.file("access.log")
            edge.accessLogFormat = "json"
            var cached = RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"])
            var settings = RouteCacheSettings()
            settings.maxEntryBytes = 1_024
            cached.cache = settings
            var withDefault = RouteSettings(path: "/default/", upstreams: ["127.0.0.1:\(upstream.port)"])
            var defaultSettings = RouteCacheSettings()
            defaultSettings.defaultTTLSeconds = 60
            withDefault.cache = defaultSettings
            let plain = RouteSettings(path: "/app/", upstreams: ["127.0.0.1:\(upstream.port)"])
            var status = RouteSettings(path: "/server-status", upstreams: [])
            status.status = true
            edge.sites = [SiteSettings(name: "cache", hosts: ["*"], routes: [cached, withDefault, plain, status])]
        }
        let base = "https://localhost:\(edge.httpsPort)"
        let certificate = edge.certificateFile
        func get(_ path: String, _ arguments: [String] = []) async throws -> EdgeHTTP2Tests.CurlResult {
            try await EdgeHTTP2Tests.curl([protocolFlag] + arguments + [base + path], certificate: certificate)
        }
        func header(_ result: EdgeHTTP2Tests.CurlResult, _ name: String) -> String? {
            result.headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
                .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
        }
        func count(_ path: String) -> Int { upstream.requests.filter { $0.uri == path }.count }

        // A fresh response is stored, then served without asking the upstream again.
        let first = try await get("/page")
        let second = try await get("/page")
        let compressed = try await get("/page", ["--compressed"])
        let head = try await get("/page", ["-I"])
        let validated = try await get("/page", ["-H", "If-None-Match: \"v1\""])
        #expect(first.status == 200)
        #expect(first.body.hasPrefix("<p>resposta 1</p>"))
        #expect(header(first, "X-Cache") == "MISS")
        #expect(second.body == first.body)
        #expect(header(second, "X-Cache") == "HIT")
        #expect(header(second, "Age").flatMap(Int.init) != nil)
        #expect(header(second, "ETag") == "\"v1\"")
        #expect(header(second, "X-Frame-Options") == "DENY")
        // The stored body goes through compression like an upstream's would.
        #expect(compressed.body == first.body)
        #expect(header(compressed, "Content-Encoding") != nil)
        #expect(header(compressed, "X-Cache") == "HIT")
        #expect(head.status == 200)
        #expect(!head.body.contains("resposta"))
        #expect(validated.status == 304)
        #expect(header(validated, "X-Cache") == "HIT")
        #expect(count("/page") == 1)

        // The client asks for a fresh answer: the upstream is asked and the new answer stored.
        let refreshed = try await get("/page", ["-H", "Cache-Control: no-cache"])
        let afterRefresh = try await get("/page")
        #expect(refreshed.body.hasPrefix("<p>resposta 2</p>"))
        #expect(afterRefresh.body.hasPrefix("<p>resposta 2</p>"))
        #expect(count("/page") == 2)

        // A successful unsafe request to the same target makes the stored response stale.
        let posted = try await get("/page", ["-X", "POST", "--data-binary", "x"])
        let afterPost = try await get("/page")
        #expect(posted.status == 200)
        #expect(header(afterPost, "X-Cache") == "MISS")
        #expect(afterPost.body.hasPrefix("<p>resposta 4</p>"))

        // Requests with credentials never see a response that was not marked public, and do not store one.
        let withCookie = try await get("/page", ["-H", "Cookie: sessao=abc"])
        let authorized = try await get("/page", ["-H", "Authorization: Bearer x"])
        #expect(withCookie.body.hasPrefix("<p>resposta 5</p>"))
        #expect(authorized.body.hasPrefix("<p>resposta 6</p>"))
        _ = try await get("/public")
        let publicWithCookie = try await get("/public", ["-H", "Cookie: sessao=abc"])
        #expect(publicWithCookie.body.hasPrefix("pública"))
        #expect(header(publicWithCookie, "X-Cache") == "HIT")
        #expect(count("/public") == 1)

        // What must not be kept is not kept.
        for path in ["/private", "/no-store", "/cookie", "/big", "/error", "/unmarked"] {
            _ = try await get(path)
            let again = try await get(path)
            #expect(header(again, "X-Cache") == "MISS", "\(path)")
            #expect(count(path) == 2, "\(path)")
        }
        // A 404 with a lifetime is kept; Expires gives a lifetime too.
        for path in ["/missing", "/expires"] {
            _ = try await get(path)
            let again = try await get(path)
            #expect(header(again, "X-Cache") == "HIT", "\(path)")
            #expect(count(path) == 1, "\(path)")
        }
        #expect(try await get("/missing").status == 404)
        // Validators apply to a stored 200 only: a stored 404 stays a 404.
        let missingValidated = try await get("/missing", ["-H", "If-None-Match: \"m\""])
        #expect(missingValidated.status == 404)
        #expect(header(missingValidated, "X-Cache") == "HIT")
        // A stored 204 is served without a body length.
        _ = try await get("/empty")
        let empty = try await get("/empty")
        #expect(empty.status == 204)
        #expect(header(empty, "X-Cache") == "HIT")
        #expect(header(empty, "Content-Length") == nil)

        // A chunked answer is stored whole and served with its length.
        let chunkedFirst = try await get("/chunked", ["--http1.1"])
        let chunkedAgain = try await get("/chunked", ["--http1.1"])
        #expect(header(chunkedFirst, "Transfer-Encoding") == "chunked")
        #expect(header(chunkedAgain, "X-Cache") == "HIT")
        #expect(chunkedAgain.body == chunkedFirst.body)
        #expect(chunkedFirst.body.hasPrefix("em partes "))
        #expect(header(chunkedAgain, "Content-Length") == "\(chunkedFirst.body.utf8.count)")

        // Vary: one stored answer per language.
        let portuguese = try await get("/vary", ["-H", "Accept-Language: pt-BR"])
        let english = try await get("/vary", ["-H", "Accept-Language: en"])
        let portugueseAgain = try await get("/vary", ["-H", "Accept-Language: pt-BR"])
        #expect(portuguese.body.hasPrefix("idioma pt-BR"))
        #expect(english.body.hasPrefix("idioma en"))
        #expect(portugueseAgain.body == portuguese.body)
        #expect(count("/vary") == 2)

        // A response that arrives with Age 59 of max-age 60 goes stale within a second or two.
        _ = try await get("/short")
        try await Task.sleep(for: .milliseconds(2_100))
        let stale = try await get("/short")
        #expect(header(stale, "X-Cache") == "MISS")
        #expect(count("/short") == 2)

        // default_ttl keeps responses that state no lifetime; routes without cache never store.
        _ = try await get("/default/x")
        let defaulted = try await get("/default/x")
        #expect(header(defaulted, "X-Cache") == "HIT")
        _ = try await get("/app/page")
        let uncached = try await get("/app/page")
        #expect(header(uncached, "X-Cache") == nil)
        #expect(count("/app/page") == 2)

        // Query strings are part of the key.
        _ = try await get("/page?a=1")
        let otherQuery = try await get("/page?a=2")
        #expect(header(otherQuery, "X-Cache") == "MISS")

        // The Host as sent, port included, is part of the key: an answer built for another
        // Host never reaches this one.
        let otherPort = try await get("/expires", ["-H", "Host: localhost:1337"])
        #expect(header(otherPort, "X-Cache") == "MISS")
        #expect(count("/expires") == 2)
        // Any method that may change the target, even one the cache does not know, forgets it.
        _ = try await get("/expires", ["-X", "MKCOL"])
        let afterUnknownMethod = try await get("/expires")
        #expect(header(afterUnknownMethod, "X-Cache") == "MISS")

        let status = try await get("/server-status?json")
        #expect(status.body.contains("\"cache\":{\"entries\":"))
        await edge.stop()
        await upstream.stop()
        // The JSON access log says how the cache answered each request.
        let log = (try? String(contentsOfFile: logs.file("access.log"), encoding: .utf8)) ?? ""
        #expect(log.contains("\"uri\":\"/page\"") && log.contains("\"cache\":\"HIT\""))
        #expect(log.contains("\"cache\":\"MISS\""))
        #expect(log.contains("\"cache\":\"BYPASS\""))
    }
    @Test("stale_on_error: an expired answer stands in for an upstream that fails, errs or is silent",
          arguments: ["--http1.1", "--http2"])
    func staleOnError(protocolFlag: String) async throws {
        /// "ok", "error" (500) or "silent" (answers after the proxy timeout).
        let mode = NIOLockedValueBox("ok")
        let upstream = try await RecordingUpstream.start(contentType: "text/plain") { request, number in
            switch mode.withLockedValue({ $0 }) {
            case "error": return ScriptedResponse(status: 500, body: "falhou \(number)")
            case "silent": return ScriptedResponse(body: "tarde \(number)", delay: .seconds(5))
            default: return ScriptedResponse(headers: [("Cache-Control", "max-age=1")], body: "relatório \(number)")
            }
        }
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            // Long enough that a loaded machine's healthy answer is never taken for silence.
            edge.proxyTimeoutSeconds = 2
            var withStale = RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"])
            var staleSettings = RouteCacheSettings()
            staleSettings.staleOnErrorSeconds = 60
            withStale.cache = staleSettings
            var plain = RouteSettings(path: "/plain/", upstreams: ["127.0.0.1:\(upstream.port)"])
            plain.cache = RouteCacheSettings()
            edge.sites = [SiteSettings(name: "stale", hosts: ["*"], routes: [withStale, plain])]
        }
        let base = "https://localhost:\(edge.httpsPort)"
        let certificate = edge.certificateFile
        func get(_ path: String) async throws -> EdgeHTTP2Tests.CurlResult {
            try await EdgeHTTP2Tests.curl([protocolFlag, base + path], certificate: certificate)
        }
        func cacheHeader(_ result: EdgeHTTP2Tests.CurlResult) -> String? {
            result.headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix("x-cache:") }
                .map { String($0.dropFirst(8)).trimmingCharacters(in: .whitespaces) }
        }
        let fresh = try await get("/report")
        _ = try await get("/plain/report")
        try await Task.sleep(for: .milliseconds(1_300))
        mode.withLockedValue { $0 = "error" }
        let duringError = try await get("/report")
        let plainDuringError = try await get("/plain/report")
        let neverStored = try await get("/other")
        mode.withLockedValue { $0 = "silent" }
        let duringSilence = try await get("/report")
        mode.withLockedValue { $0 = "ok" }
        let recovered = try await get("/report")
        await edge.stop()
        await upstream.stop()

        #expect(fresh.status == 200)
        #expect(duringError.status == 200)
        #expect(duringError.body == fresh.body)
        #expect(cacheHeader(duringError) == "STALE")
        #expect(duringSilence.status == 200)
        #expect(duringSilence.body == fresh.body)
        #expect(cacheHeader(duringSilence) == "STALE")
        // Without stale_on_error, and with nothing stored, the failure shows.
        #expect(plainDuringError.status == 500)
        #expect(neverStored.status == 500)
        // Once the upstream answers again, its new answer is served and stored.
        #expect(recovered.status == 200)
        #expect(recovered.body != fresh.body)
        #expect(cacheHeader(recovered) == "MISS")
    }
}
