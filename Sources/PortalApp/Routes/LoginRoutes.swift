import Foundation
import Hummingbird
import Logging
import PortalCore
import PortalData

/// `GET/POST /login` and `POST /logout`: e-mail and password sign-in with a database session.
struct LoginRoutes {
    let services: AppServices
    let renderer: PageRenderer

    struct LoginForm: Decodable {
        var email: String?
        var password: String?
        var next: String?
    }

    func register(on router: Router<AppRequestContext>) {
        router.get("/login") { request, context -> Response in
            if context.user != nil { return Response.redirect(to: "/tasks", type: .found) }
            let next = Self.safeNext(request.uri.queryParameters.get("next"))
            return loginPage(request: request, context: context, values: ["next": next, "email": ""], status: .ok)
        }
        router.post("/login") { request, context -> Response in
            try await login(request: request, context: context)
        }
        router.post("/logout") { _, context -> Response in
            if let token = context.sessionToken {
                try await services.sessions().delete(token: token)
                context.logger.info("logout")
                if let user = context.user {
                    try await services.audit().record(AuditEvent(kind: .logout, userID: user.id, email: user.email,
                                                                 clientIP: context.origin.clientAddress))
                }
            }
            var response = Response.redirect(to: "/login", type: .normal)
            response.setCookie(Self.sessionCookie(value: "", maxAge: 0, secure: context.origin.scheme == "https"))
            return response
        }
    }

    private func login(request: Request, context: AppRequestContext) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 16 * 1024)
        let form: LoginForm
        do {
            form = try URLEncodedFormDecoder().decode(LoginForm.self, from: String(buffer: body))
        } catch {
            throw HTTPError(.badRequest, message: "Formulário inválido.")
        }
        let email = (form.email ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let password = form.password ?? ""
        let next = Self.safeNext(form.next)
        guard !email.isEmpty, !password.isEmpty, email.count <= 254, password.count <= 1024 else {
            return loginPage(request: request, context: context,
                             values: ["next": next, "email": email, "error": "Informe e-mail e senha."], status: .badRequest)
        }
        let address = context.origin.clientAddress, account = email.lowercased()
        // The e-mail as typed goes to the audit log only when it looks like one: a password typed
        // into the wrong field must not end up on the admins' page.
        let auditedEmail = EmailAddress.isPlausible(account) ? account : "—"
        if let wait = services.loginLimiter.begin(address: address, account: account) {
            let seconds = max(1, Int(wait.rounded(.up)))
            context.logger.notice("login refused: too many attempts", metadata: ["retry_after": "\(seconds)"])
            var response = loginPage(request: request, context: context, values: [
                "next": next, "email": email,
                "error": "Muitas tentativas de acesso. Tente novamente em \(PortugueseDuration.text(seconds: seconds)).",
            ], status: .tooManyRequests)
            response.headers[.retryAfter] = String(seconds)
            return response
        }
        let authenticated: UserAccount?
        do {
            authenticated = try await services.accounts().authenticate(email: email, password: password)
        } catch {
            services.loginLimiter.cancel(address: address, account: account)
            throw error
        }
        guard let user = authenticated else {
            let lockout = services.loginLimiter.finish(address: address, account: account, succeeded: false)
            try await services.audit().record(AuditEvent(kind: .loginFailed, userID: nil, email: auditedEmail, clientIP: address))
            if let lockout {
                let length = PortugueseDuration.text(seconds: Int(lockout))
                try await services.audit().record(AuditEvent(kind: .loginLocked, userID: nil, email: auditedEmail, clientIP: address,
                                                             detail: "bloqueio de \(length)"))
            }
            context.logger.notice("login failed", metadata: ["email_domain": "\(auditedEmail.split(separator: "@").last ?? "")"])
            return loginPage(request: request, context: context,
                             values: ["next": next, "email": email, "error": "E-mail ou senha inválidos."], status: .unauthorized)
        }
        services.loginLimiter.finish(address: address, account: account, succeeded: true)
        try await services.audit().record(AuditEvent(kind: .loginSucceeded, userID: user.id, email: user.email, clientIP: address))
        return try await Self.startSession(for: user, request: request, context: context, services: services,
                                           redirectTo: next, redirect: .normal)
    }

    /// Signs `user` in: a new session (any session id the browser had is dropped, so none
    /// planted before login is ever promoted), its cookie, and a redirect to `next`.
    static func startSession(for user: UserAccount, request: Request, context: AppRequestContext, services: AppServices,
                             redirectTo next: String, redirect: Response.RedirectType) async throws -> Response {
        let sessions = try services.sessions()
        if let previous = context.sessionToken { try await sessions.delete(token: previous) }
        let token = try await sessions.create(
            userID: user.id, clientIP: context.origin.clientAddress,
            userAgent: request.headers[.userAgent] ?? "")
        context.logger.info("login succeeded", metadata: ["user_id": "\(user.id)"])
        var response = Response.redirect(to: next, type: redirect)
        response.setCookie(sessionCookie(value: token, maxAge: services.settings.sessionLifetimeHours * 3600,
                                         secure: context.origin.scheme == "https"))
        return response
    }

    /// The login page with its CSRF token, bound to a pre-session cookie (set when missing).
    func loginPage(request: Request, context: AppRequestContext, values: [String: Any],
                           status: HTTPResponse.Status) -> Response {
        let existing = request.cookies[CSRFMiddleware.preSessionCookie]?.value
        let cookie = existing.flatMap { $0.isEmpty ? nil : $0 } ?? CSRFTokens.randomCookie()
        var values = values
        values["csrf"] = services.csrf.token(for: "pre|" + cookie)
        values["google"] = services.google != nil
        values["googleNext"] = OpenIDClient.formEncode(values["next"] as? String ?? "/tasks")
        var response = renderer.render("login", values, status: status)
        if existing != cookie {
            response.setCookie(Cookie(name: CSRFMiddleware.preSessionCookie, value: cookie, path: "/",
                                      secure: context.origin.scheme == "https", httpOnly: true, sameSite: .lax))
        }
        return response
    }

    /// The session cookie: HttpOnly, SameSite=Lax, and Secure when the client used HTTPS.
    static func sessionCookie(value: String, maxAge: Int, secure: Bool) -> Cookie {
        Cookie(name: SessionMiddleware.cookieName, value: value, maxAge: maxAge, path: "/",
               secure: secure, httpOnly: true, sameSite: .lax)
    }

    /// Only a local path may follow login (`/tasks?x=1`), never another site (`//evil`, `https:`,
    /// or `/<tab>/evil`, which browsers read as `//evil` once they drop the tab).
    static func safeNext(_ value: String?) -> String {
        guard let value, value.hasPrefix("/"), !value.hasPrefix("//"), !value.hasPrefix("/\\"),
              !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || $0 == "\\" }),
              value.count <= 512
        else { return "/tasks" }
        return value
    }
}
