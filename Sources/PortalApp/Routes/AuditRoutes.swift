import Foundation
import Hummingbird
import PortalData

/// `GET /admin/audit`: the audit log for admins, newest first, filtered by event kind
/// (`tipo`) and by text in the e-mail, address or detail (`busca`). Read-only: no route
/// changes or deletes an entry.
struct AuditRoutes {
    let services: AppServices
    let renderer: PageRenderer

    func register(on router: Router<AppRequestContext>) {
        router.get("/admin/audit") { request, context -> Response in
            guard let user = context.user else {
                return Response.redirect(to: "/login?next=/admin/audit", type: .found)
            }
            guard user.role == .admin else {
                return renderer.render("forbidden", ["message": "Esta página é restrita a administradores."],
                                       status: .forbidden)
            }
            let query = request.uri.queryParameters
            let kindValue = query.get("tipo") ?? ""
            let kind = AuditEvent.Kind(rawValue: kindValue)
            guard kindValue.isEmpty || kind != nil else {
                throw HTTPError(.badRequest, message: "Tipo de evento desconhecido: \(kindValue)")
            }
            let text = String((query.get("busca") ?? "").prefix(200))
            let events = try await services.audit().events(kind: kind, containing: text)
            let rows: [[String: Any]] = events.map { event in
                [
                    "at": PageSupport.dateTime(event.at),
                    "kind": event.kind.label,
                    "email": event.email,
                    "address": event.clientIP,
                    "detail": event.detail,
                ]
            }
            let kinds: [[String: Any]] = AuditEvent.Kind.allCases.map { option in
                ["value": option.rawValue, "label": option.label, "selected": option == kind]
            }
            return renderer.render("audit", [
                "user": PageRenderer.header(for: user),
                "csrf": context.sessionToken.map { services.csrf.token(for: "session|" + $0) } ?? "",
                "events": rows,
                "hasEvents": !rows.isEmpty,
                "kinds": kinds,
                "text": text,
            ])
        }
    }
}
