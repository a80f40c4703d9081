import Foundation
import Hummingbird
import Logging
import PortalData

/// Turns a failure caused by a database that is away (a server restarting, a network cut) into
/// `503 Service Unavailable` with `Retry-After`, in HTML, or in JSON for the API and clients
/// asking for it, instead of a `500`. A failure counts as an outage when the driver says the
/// connection failed, or when the database does not answer a ping right after the failure.
struct DatabaseOutageMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let services: AppServices
    let renderer: PageRenderer

    static let retryAfterSeconds = 5

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            throw error
        } catch {
            // A connection failure counts even when the database is back by the time we ask.
            let outage = PortalDatabase.isConnectionFailure(error) ? true : await services.database.isUnavailable()
            guard outage else { throw error }
            context.logger.error("request failed: database unavailable", metadata: ["error": "\(error)"])
            return Self.response(for: request, renderer: renderer)
        }
    }

    static let message = "O banco de dados está indisponível no momento. Tente novamente em instantes."

    static func response(for request: Request, renderer: PageRenderer) -> Response {
        if request.uri.path.hasPrefix(APIRoutes.prefix + "/") || request.headers[.accept]?.contains("application/json") == true {
            return jsonResponse()
        }
        var response = renderer.render("unavailable", ["message": message], status: .serviceUnavailable)
        response.headers[.retryAfter] = String(retryAfterSeconds)
        return response
    }

    /// The API's form of the answer.
    static func jsonResponse() -> Response {
        var response = APIProblem(status: .serviceUnavailable, code: "database_unavailable", message: message).response
        response.headers[.retryAfter] = String(retryAfterSeconds)
        return response
    }
}

extension PortalDatabase {
    /// True when the database does not answer a trivial query.
    func isUnavailable() async -> Bool {
        await !ping()
    }
}
