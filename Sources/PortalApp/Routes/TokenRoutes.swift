import Foundation
import Hummingbird
import Logging
import PortalData

/// `GET /tokens`: the signed-in user's personal API tokens; `POST /tokens` issues one (shown
/// once, on the answer page) and `POST /tokens/:id/revoke` revokes one of the user's own.
struct TokenRoutes {
    let services: AppServices
    let renderer: PageRenderer

    struct NewTokenForm: Decodable {
        var name: String?
        var scope: String?
        var days: String?
    }

    static let dayChoices = [30, 90, 180, 365]

    func register(on router: Router<AppRequestContext>) {
        router.get("/tokens") { _, context -> Response in
            guard let user = context.user else { return PageSupport.signIn(returningTo: "/tokens") }
            return try await page(for: user, context: context)
        }
        router.post("/tokens") { request, context -> Response in
            guard let user = context.user else { return PageSupport.signIn(returningTo: "/tokens", afterForm: true) }
            let form = try await PageSupport.form(NewTokenForm.self, from: request)
            let name = (form.name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !name.isEmpty, name.count <= 80 else {
                return try await page(for: user, context: context, error: "Dê ao token um nome de 1 a 80 caracteres.", status: .badRequest)
            }
            guard let scope = APIScope(rawValue: form.scope ?? "") else {
                return try await page(for: user, context: context, error: "Escolha o acesso do token.", status: .badRequest)
            }
            guard let days = Int(form.days ?? ""), Self.dayChoices.contains(days) else {
                return try await page(for: user, context: context, error: "Escolha a validade do token.", status: .badRequest)
            }
            let issued: (token: String, summary: APITokenSummary)
            do {
                issued = try await services.tokens().create(userID: user.id, name: name, scope: scope, days: days)
            } catch is AccountError {
                return try await page(for: user, context: context, error: "Você já tem \(APITokenStore.maximumPerUser) tokens ativos; revogue um antes de criar outro.",
                                      status: .conflict)
            }
            context.logger.info("API token created", metadata: ["token_id": "\(issued.summary.id)"])
            try await services.audit().record(AuditEvent(kind: .tokenCreated, userID: user.id, email: user.email,
                                                         clientIP: context.origin.clientAddress,
                                                         detail: "\(name) (\(issued.summary.prefix)…, \(scope.label.lowercased()), \(days) dias)"))
            return try await page(for: user, context: context, newToken: issued.token, status: .created)
        }
        router.post("/tokens/:id/revoke") { _, context -> Response in
            guard let user = context.user else { return PageSupport.signIn(returningTo: "/tokens", afterForm: true) }
            // Another user's id, an unknown id and an already revoked token all land back on the
            // list unchanged; nothing tells them apart.
            guard let id = PageSupport.id(context),
                  let revoked = try await services.tokens().revoke(tokenID: id, ofUser: user.id)
            else { return Response.redirect(to: "/tokens", type: .normal) }
            context.logger.info("API token revoked", metadata: ["token_id": "\(id)"])
            try await services.audit().record(AuditEvent(kind: .tokenRevoked, userID: user.id, email: user.email,
                                                         clientIP: context.origin.clientAddress,
                                                         detail: "\(revoked.name) (\(revoked.prefix)…)"))
            return Response.redirect(to: "/tokens", type: .normal)
        }
    }

    private func page(for user: UserAccount, context: AppRequestContext, newToken: String? = nil,
                      error: String? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        let now = Date()
        let rows: [[String: Any]] = try await services.tokens().tokens(ofUser: user.id).map { token in
            let state: String
            if let revoked = token.revokedAt { state = "Revogado em " + PageSupport.dateTime(revoked) }
            else if token.expiresAt <= now { state = "Expirado" }
            else { state = "Ativo" }
            return [
                "id": token.id,
                "name": token.name,
                "prefix": token.prefix,
                "scope": token.scope.label,
                "created": PageSupport.dateTime(token.createdAt),
                "expires": PageSupport.dateTime(token.expiresAt),
                "lastUsed": token.lastUsedAt.map(PageSupport.dateTime) ?? "Nunca",
                "state": state,
                "usable": token.isUsable(at: now),
            ]
        }
        var values = PageSupport.base(user, context: context, services: services)
        values["tokens"] = rows
        values["hasTokens"] = !rows.isEmpty
        values["days"] = Self.dayChoices.map { ["value": $0, "selected": $0 == 90] }
        if let newToken { values["newToken"] = newToken }
        if let error { values["error"] = error }
        return renderer.render("tokens", values, status: status)
    }
}
