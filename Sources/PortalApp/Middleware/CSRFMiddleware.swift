import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Refuses state-changing requests that a form of this site did not send: the `Origin` (or
/// `Referer`) must be this site when present, and a valid CSRF token must come in the form
/// field `csrf_token` or the `X-CSRF-Token` header. `/api/v1`, authenticated by bearer tokens
/// only, carries no cookie to abuse and is exempt.
struct CSRFMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let services: AppServices
    let renderer: PageRenderer

    static let preSessionCookie = "portal_csrf"
    static let formField = "csrf_token"
    static let header = HTTPField.Name.constant("X-CSRF-Token")

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response {
        switch request.method {
        case .get, .head, .options:
            return try await next(request, context)
        default:
            break
        }
        // The API never accepts the session cookie (`APITokenMiddleware`), so there is nothing to forge.
        if request.uri.path.hasPrefix(APIRoutes.prefix + "/") {
            return try await next(request, context)
        }
        guard Self.originMatches(request, context: context) else {
            context.logger.notice("request refused: cross-site origin", metadata: ["path": "\(request.uri.path)"])
            return refusal(context: context)
        }
        var request = request
        var token = request.headers[Self.header]
        if token == nil, request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true {
            let body = try await request.collectBody(upTo: context.maxUploadSize)
            token = Self.formValue(Self.formField, in: String(buffer: body))
        }
        guard let token, let binding = Self.binding(request, context: context),
              services.csrf.isValid(token, for: binding) else {
            context.logger.notice("request refused: missing or wrong CSRF token", metadata: ["path": "\(request.uri.path)"])
            return refusal(context: context)
        }
        return try await next(request, context)
    }

    /// What the token is bound to: the session, or the pre-session cookie of the login page.
    static func binding(_ request: Request, context: Context) -> String? {
        if let session = context.sessionToken { return "session|" + session }
        if let preSession = request.cookies[preSessionCookie]?.value, !preSession.isEmpty { return "pre|" + preSession }
        return nil
    }

    /// `Origin`, or else `Referer`, must name this host when the browser sends one.
    static func originMatches(_ request: Request, context: Context) -> Bool {
        guard let host = context.origin.host ?? request.head.authority else { return true }
        let source = request.headers[HTTPField.Name.constant("Origin")] ?? request.headers[.referer]
        guard let source, source != "null" else { return source == nil }
        guard let url = URL(string: source), let sourceHost = url.host else { return false }
        let port = url.port.map { ":\($0)" } ?? ""
        let hostOnly = host.split(separator: ":").first.map(String.init) ?? host
        return (sourceHost + port).lowercased() == host.lowercased() || sourceHost.lowercased() == hostOnly.lowercased()
    }

    static func formValue(_ name: String, in body: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == name else { continue }
            return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return nil
    }

    private func refusal(context: Context) -> Response {
        renderer.render("forbidden", ["message": "A verificação de segurança do formulário falhou. Recarregue a página e tente novamente."],
                        status: .forbidden)
    }
}
