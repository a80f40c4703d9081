import Foundation
import Hummingbird
import Logging
import PortalData

/// `GET /sessions`: the signed-in user's live sessions (where and when), with
/// `POST /sessions/revoke` to end one and `POST /sessions/revoke-others` to end all but this one.
struct SessionRoutes {
    let services: AppServices
    let renderer: PageRenderer

    struct RevokeForm: Decodable {
        var id: String?
    }

    func register(on router: Router<AppRequestContext>) {
        router.get("/sessions") { _, context -> Response in
            guard let user = context.user else { return Response.redirect(to: "/login?next=/sessions", type: .found) }
            let sessions = try await services.sessions().sessions(ofUser: user.id, currentToken: context.sessionToken)
            let rows: [[String: Any]] = sessions.map { session in
                [
                    "id": session.id,
                    "created": PageSupport.dateTime(session.createdAt),
                    "lastSeen": PageSupport.dateTime(session.lastSeenAt),
                    "address": session.clientIP,
                    "browser": session.userAgent.isEmpty ? "—" : session.userAgent,
                    "current": session.isCurrent,
                ]
            }
            return renderer.render("sessions", [
                "user": PageRenderer.header(for: user),
                "csrf": context.sessionToken.map { services.csrf.token(for: "session|" + $0) } ?? "",
                "sessions": rows,
                "hasOthers": sessions.contains { !$0.isCurrent },
            ])
        }
        router.post("/sessions/revoke") { request, context -> Response in
            guard let user = context.user else { return Response.redirect(to: "/login?next=/sessions", type: .normal) }
            var request = request
            let body = try await request.collectBody(upTo: 4 * 1024)
            guard let form = try? URLEncodedFormDecoder().decode(RevokeForm.self, from: String(buffer: body)),
                  let id = form.id, !id.isEmpty
            else { throw HTTPError(.badRequest, message: "Formulário inválido: falta a sessão a encerrar.") }
            // A session already ended (a second click, an expiry) or not the user's own: the page
            // is shown again, now without it; nothing tells whether another user's id exists.
            guard try await services.sessions().revoke(sessionID: id, ofUser: user.id) else {
                return Response.redirect(to: "/sessions", type: .normal)
            }
            context.logger.info("session revoked", metadata: ["user_id": "\(user.id)"])
            try await services.audit().record(AuditEvent(kind: .sessionRevoked, userID: user.id, email: user.email,
                                                         clientIP: context.origin.clientAddress))
            if let token = context.sessionToken, id == SessionStore.hash(token) {
                var response = Response.redirect(to: "/login", type: .normal)
                response.setCookie(LoginRoutes.sessionCookie(value: "", maxAge: 0, secure: context.origin.scheme == "https"))
                return response
            }
            return Response.redirect(to: "/sessions", type: .normal)
        }
        router.post("/sessions/revoke-others") { _, context -> Response in
            guard let user = context.user, let token = context.sessionToken else {
                return Response.redirect(to: "/login?next=/sessions", type: .normal)
            }
            let ended = try await services.sessions().revokeOthers(ofUser: user.id, keeping: token)
            context.logger.info("other sessions revoked", metadata: ["user_id": "\(user.id)", "count": "\(ended)"])
            try await services.audit().record(AuditEvent(kind: .otherSessionsRevoked, userID: user.id, email: user.email,
                                                         clientIP: context.origin.clientAddress, detail: ended == 1 ? "1 sessão" : "\(ended) sessões"))
            return Response.redirect(to: "/sessions", type: .normal)
        }
    }

}
