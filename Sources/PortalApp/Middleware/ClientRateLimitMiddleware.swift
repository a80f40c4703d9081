import Hummingbird
import Logging

/// Answers `429 Too Many Requests` with `Retry-After` once a client address has used up its
/// allowance (the seed's Flask-Limiter default limit). Runs after the trusted-proxy check, so
/// the address is the real client's, and before sessions, so a flood never reaches the database.
struct ClientRateLimitMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let limiter: ClientRateLimiter
    let renderer: PageRenderer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response {
        guard let wait = limiter.take(context.origin.clientAddress) else {
            return try await next(request, context)
        }
        let seconds = max(1, Int(wait.rounded(.up)))
        context.logger.notice("request refused: client over its rate limit", metadata: ["retry_after": "\(seconds)"])
        var response = renderer.render("too_many_requests", [
            "message": "Muitas requisições deste endereço. Aguarde \(PortugueseDuration.text(seconds: seconds)) e tente novamente.",
        ], status: .tooManyRequests)
        response.headers[.retryAfter] = String(seconds)
        return response
    }
}
