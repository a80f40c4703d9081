import Foundation
import Hummingbird
import Logging
import PortalData

/// `GET/POST /account/password`: a signed-in user changes their own password (the current one
/// first, then the new one twice, checked against the password policy). Every other session of
/// the user ends and their API tokens are revoked; this browser gets a fresh session. Wrong
/// current passwords count against the sign-in limits.
struct PasswordRoutes {
    let services: AppServices
    let renderer: PageRenderer

    struct PasswordForm: Decodable {
        var current: String?
        var new: String?
        var confirmation: String?
    }

    func register(on router: Router<AppRequestContext>) {
        router.get("/account/password") { request, context -> Response in
            guard let user = context.user else { return PageSupport.signIn(returningTo: request.uri.path) }
            return page(for: user, context: context)
        }
        router.post("/account/password") { request, context -> Response in
            guard let user = context.user else { return PageSupport.signIn(returningTo: "/account/password", afterForm: true) }
            let form = try await PageSupport.form(PasswordForm.self, from: request)
            let current = form.current ?? "", new = form.new ?? ""
            guard current.count <= 1024, new.count <= 1024 else {
                return page(for: user, context: context, error: "A senha atual não confere.", status: .badRequest)
            }
            // Guesses of the current password count like failed sign-ins (a stolen session must
            // not become a way to try passwords).
            let address = context.origin.clientAddress
            if let wait = services.loginLimiter.begin(address: address, account: user.email) {
                let seconds = max(1, Int(wait.rounded(.up)))
                var response = page(for: user, context: context,
                                    error: "Muitas tentativas. Tente novamente em \(PortugueseDuration.text(seconds: seconds)).",
                                    status: .tooManyRequests)
                response.headers[.retryAfter] = String(seconds)
                return response
            }
            let matches: Bool
            do {
                matches = try await services.accounts().authenticate(email: user.email, password: current) != nil
            } catch {
                services.loginLimiter.cancel(address: address, account: user.email)
                throw error
            }
            _ = services.loginLimiter.finish(address: address, account: user.email, succeeded: matches)
            guard matches else {
                return page(for: user, context: context, error: "A senha atual não confere.", status: .badRequest)
            }
            guard new == form.confirmation else {
                return page(for: user, context: context, error: "A confirmação não é igual à nova senha.", status: .badRequest)
            }
            if let problem = PasswordPolicy.problem(with: new, email: user.email) {
                return page(for: user, context: context, error: Self.portuguese(problem), status: .badRequest)
            }
            try await services.accounts().setPassword(new, email: user.email)
            try await services.audit().record(AuditEvent(kind: .passwordChanged, userID: user.id, email: user.email,
                                                         clientIP: context.origin.clientAddress, detail: "pelo próprio usuário"))
            context.logger.info("password changed by its owner")
            return try await LoginRoutes.startSession(for: user, request: request, context: context, services: services,
                                                      redirectTo: "/tasks", redirect: .normal)
        }
    }

    private func page(for user: UserAccount, context: AppRequestContext, error: String? = nil,
                      status: HTTPResponse.Status = .ok) -> Response {
        var values = PageSupport.base(user, context: context, services: services)
        values["minimum"] = PasswordPolicy.minimumLength
        if let error { values["error"] = error }
        return renderer.render("password", values, status: status)
    }

    /// The policy's reasons (written for the command line) as the page tells them.
    static func portuguese(_ problem: String) -> String {
        if problem.contains("at least") { return "A nova senha precisa ter pelo menos \(PasswordPolicy.minimumLength) caracteres." }
        if problem.contains("at most") { return "A nova senha é longa demais (máximo de \(PasswordPolicy.maximumBytes) bytes)." }
        if problem.contains("e-mail") { return "A nova senha não pode conter o seu e-mail." }
        if problem.contains("common") || problem.contains("known") || problem.contains("list") {
            return "Esta senha é muito comum ou já foi publicada; escolha outra."
        }
        if problem.contains("repeat") { return "A nova senha não pode ser só um padrão repetido." }
        return "A nova senha não atende às regras; escolha outra."
    }
}
