/// Why a sign-in with the OpenID provider did not go through. The detail goes to the log; the
/// person signing in sees `userMessage`, which never reveals more than they need.
struct SignInError: Error, CustomStringConvertible {
    enum Reason: Sendable {
        /// The provider could not be reached or answered something unusable.
        case provider
        /// The flow cookie is missing, expired, or does not match the `state` (a stale tab, a forged link).
        case flow
        /// The ID token failed a check (signature, issuer, audience, nonce, times).
        case token
        /// The account is not acceptable (e-mail not verified, domain not allowed).
        case account
    }

    let reason: Reason
    let description: String

    init(_ reason: Reason, _ description: String) {
        self.reason = reason
        self.description = description
    }

    var userMessage: String {
        switch reason {
        case .provider: "O Google não respondeu como esperado. Tente novamente em alguns minutos."
        case .flow: "O pedido de login expirou ou não é válido. Comece de novo pelo botão Entrar com Google."
        case .token: "A resposta do Google não pôde ser verificada. Comece de novo."
        case .account: description
        }
    }
}
