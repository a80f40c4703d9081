import Foundation
import Hummingbird
import Logging
import PortalData

/// Reads the session cookie and puts the signed-in user into the context.
struct SessionMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let services: AppServices

    static let cookieName = "portal_session"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response {
        var context = context
        // `/api/v1` authenticates by bearer token only; a cookie there is ignored.
        if !request.uri.path.hasPrefix(APIRoutes.prefix + "/"),
           let token = request.cookies[Self.cookieName]?.value, !token.isEmpty {
            let store = try services.sessions()
            if let user = try await store.user(forToken: token) {
                context.user = user
                context.sessionToken = token
                context.logger[metadataKey: "user_id"] = .stringConvertible(user.id)
            }
        }
        return try await next(request, context)
    }
}
