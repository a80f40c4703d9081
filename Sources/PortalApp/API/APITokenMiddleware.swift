import Foundation
import Hummingbird
import Logging
import PortalData

/// The gate of `/api/v1`: authenticates the personal token in `Authorization: Bearer`, holds
/// each token to its per-minute allowance, refuses changes through read-only tokens, and turns
/// every error of the API routes into a JSON answer. Cookies are never accepted here, so a
/// browser cannot be tricked into calling the API on a user's behalf.
struct APITokenMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let services: AppServices
    /// Nil when `app.api_requests_per_minute_per_token` is 0.
    let limiter: ClientRateLimiter?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response {
        do {
            var context = context
            let (user, token) = try await authenticate(request)
            context.user = user
            context.apiToken = token
            context.logger[metadataKey: "user_id"] = .stringConvertible(user.id)
            context.logger[metadataKey: "token_id"] = .stringConvertible(token.id)
            if let limiter, let wait = limiter.take("token:\(token.id)") {
                context.logger.notice("API call refused: token over its rate limit")
                throw APIProblem.tooManyRequests(retryAfter: max(1, Int(wait.rounded(.up))))
            }
            switch request.method {
            case .get, .head, .options: break
            default: guard token.scope.canWrite else { throw APIProblem.insufficientScope }
            }
            return try await next(request, context)
        } catch let problem as APIProblem {
            return problem.response
        } catch let error as AccountError {
            return APIProblem.invalid(error.description).response
        } catch let error as HTTPError where error.status == .contentTooLarge {
            return APIProblem(status: .contentTooLarge, code: "body_too_large",
                              message: "O corpo da requisição é grande demais.").response
        } catch {
            let outage = PortalDatabase.isConnectionFailure(error) ? true : await services.database.isUnavailable()
            if outage {
                context.logger.error("API call failed: database unavailable", metadata: ["error": "\(error)"])
                return DatabaseOutageMiddleware.jsonResponse()
            }
            context.logger.error("API call failed", metadata: ["error": "\(error)"])
            return APIProblem(status: .internalServerError, code: "internal_error",
                              message: "Erro interno. Tente novamente; se persistir, avise o administrador.").response
        }
    }

    private func authenticate(_ request: Request) async throws -> (UserAccount, APITokenSummary) {
        guard let header = request.headers[.authorization] else { throw APIProblem.unauthenticated(tokenWasSent: false) }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw APIProblem.unauthenticated(tokenWasSent: false) }
        let value = parts[1].trimmingCharacters(in: .whitespaces)
        guard let found = try await services.tokens().authenticate(value) else {
            throw APIProblem.unauthenticated(tokenWasSent: true)
        }
        return found
    }
}
