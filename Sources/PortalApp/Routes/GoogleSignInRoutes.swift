import Foundation
import Hummingbird
import Logging
import PortalCore
import PortalData

/// Sign-in with Google (OpenID Connect, authorization code with PKCE): `GET /auth/google` sends
/// the browser to the provider with a fresh `state`, `nonce` and code challenge kept in a sealed
/// cookie; `GET /auth/google/callback` checks them, trades the code for the ID token, verifies it
/// and signs in the active user with that verified e-mail. Unknown accounts are refused unless
/// `app.google.create_users` is on.
struct GoogleSignInRoutes {
    let services: AppServices
    let renderer: PageRenderer
    let login: LoginRoutes

    static let callbackPath = "/auth/google/callback"

    func register(on router: Router<AppRequestContext>) {
        router.get("/auth/google") { request, context -> Response in
            guard let google = services.google else { return PageSupport.notFound(renderer, "O login com Google não está ativado.") }
            let flow = SignInFlow.start(next: LoginRoutes.safeNext(request.uri.queryParameters.get("next")))
            let target: String
            do {
                target = try await google.authorizationURL(redirectURI: redirectURI(context), state: flow.state,
                                                           nonce: flow.nonce, codeChallenge: flow.codeChallenge)
            } catch let error as SignInError {
                context.logger.error("Google sign-in unavailable", metadata: ["error": "\(error)"])
                return refusal(request, context, error.userMessage, status: .badGateway)
            }
            var response = Response.redirect(to: target, type: .found)
            response.setCookie(flowCookie(try flow.sealed(with: services.signInFlowKey), context: context, maxAge: Int(SignInFlow.lifetime)))
            return response
        }
        router.get(RouterPath(Self.callbackPath)) { request, context -> Response in
            guard let google = services.google else { return PageSupport.notFound(renderer, "O login com Google não está ativado.") }
            var response: Response
            do {
                response = try await callback(request, context: context, google: google)
            } catch let error as SignInError {
                context.logger.notice("Google sign-in refused", metadata: ["error": "\(error)"])
                let status: HTTPResponse.Status = error.reason == .provider ? .badGateway : (error.reason == .account ? .forbidden : .badRequest)
                response = refusal(request, context, error.userMessage, status: status)
            }
            // The flow is single-use, whatever the outcome.
            response.setCookie(flowCookie("", context: context, maxAge: 0))
            return response
        }
    }

    private func callback(_ request: Request, context: AppRequestContext, google: OpenIDClient) async throws -> Response {
        let query = request.uri.queryParameters
        guard let sealed = request.cookies[SignInFlow.cookieName]?.value,
              let flow = SignInFlow.open(sealed, with: services.signInFlowKey)
        else { throw SignInError(.flow, "no live sign-in flow cookie") }
        guard let state = query.get("state"), OpenIDClient.constantTimeEqual(state, flow.state) else {
            throw SignInError(.flow, "state does not match the flow cookie")
        }
        if let error = query.get("error") {
            if error == "access_denied" {
                throw SignInError(.account, "O acesso foi cancelado na tela do Google.")
            }
            throw SignInError(.provider, "provider returned error \(error.prefix(100))")
        }
        guard let code = query.get("code"), !code.isEmpty, code.count <= 2048 else {
            throw SignInError(.flow, "callback without an authorization code")
        }
        let idToken = try await google.exchange(code: code, codeVerifier: flow.codeVerifier, redirectURI: redirectURI(context))
        let identity = try await google.verify(idToken: idToken, nonce: flow.nonce)
        let address = context.origin.clientAddress
        let accounts = try services.accounts()
        var user = try await accounts.user(email: identity.email)
        if user == nil, services.settings.google.createUsers {
            let name = identity.name.flatMap { $0.isEmpty ? nil : String($0.prefix(120)) } ?? identity.email
            let created = try await accounts.createUser(email: identity.email, name: name, password: PasswordGenerator.make(length: 32),
                                                        role: .colaborador)
            try await services.audit().record(AuditEvent(kind: .userCreated, userID: created.id, email: created.email,
                                                         clientIP: address, detail: "no primeiro login com Google, como colaborador"))
            user = created
        }
        guard let user, user.active else {
            try await services.audit().record(AuditEvent(kind: .loginFailed, userID: user?.id, email: identity.email, clientIP: address,
                                                         detail: user == nil ? "Google: conta não cadastrada" : "Google: usuário desativado"))
            throw SignInError(.account, user == nil
                ? "A conta \(identity.email) não está cadastrada no Portal. Peça acesso ao administrador."
                : "A conta \(identity.email) está desativada. Fale com o administrador.")
        }
        try await services.audit().record(AuditEvent(kind: .loginSucceeded, userID: user.id, email: user.email, clientIP: address,
                                                     detail: "Google"))
        return try await LoginRoutes.startSession(for: user, request: request, context: context, services: services,
                                                  redirectTo: flow.next, redirect: .found)
    }

    /// The callback registered with the provider: configured, or this site's public origin.
    private func redirectURI(_ context: AppRequestContext) -> String {
        if let configured = services.settings.google.redirectURL { return configured }
        let host = context.origin.host ?? "localhost"
        return "\(context.origin.scheme)://\(host)\(Self.callbackPath)"
    }

    private func flowCookie(_ value: String, context: AppRequestContext, maxAge: Int) -> Cookie {
        Cookie(name: SignInFlow.cookieName, value: value, maxAge: maxAge, path: SignInFlow.cookiePath,
               secure: context.origin.scheme == "https", httpOnly: true, sameSite: .lax)
    }

    private func refusal(_ request: Request, _ context: AppRequestContext, _ message: String, status: HTTPResponse.Status) -> Response {
        login.loginPage(request: request, context: context, values: ["next": "/tasks", "email": "", "error": message], status: status)
    }
}
