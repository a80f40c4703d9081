public import Foundation

/// A security-relevant event: who (user and e-mail as typed), from where, what, and when.
public struct AuditEvent: Sendable, Equatable {
    /// What happened. Raw values are stored; labels are what admins read.
    public enum Kind: String, Sendable, CaseIterable {
        case loginSucceeded = "login.succeeded"
        case loginFailed = "login.failed"
        case loginLocked = "login.locked"
        case logout
        case sessionRevoked = "session.revoked"
        case otherSessionsRevoked = "session.revoked_others"
        case userCreated = "user.created"
        case userDeactivated = "user.deactivated"
        case userActivated = "user.activated"
        case passwordChanged = "user.password_changed"
        case roleChanged = "user.role_changed"
        case tokenCreated = "token.created"
        case tokenRevoked = "token.revoked"

        /// The Portuguese label shown on the audit page.
        public var label: String {
            switch self {
            case .loginSucceeded: "Login realizado"
            case .loginFailed: "Falha de login"
            case .loginLocked: "Login bloqueado por excesso de tentativas"
            case .logout: "Saída"
            case .sessionRevoked: "Sessão encerrada"
            case .otherSessionsRevoked: "Outras sessões encerradas"
            case .userCreated: "Usuário criado"
            case .userDeactivated: "Usuário desativado"
            case .userActivated: "Usuário reativado"
            case .passwordChanged: "Senha alterada"
            case .roleChanged: "Perfil alterado"
            case .tokenCreated: "Token de API criado"
            case .tokenRevoked: "Token de API revogado"
            }
        }
    }

    /// Zero until stored.
    public let id: Int
    public let at: Date
    public let kind: Kind
    public let userID: Int?
    public let email: String
    public let clientIP: String
    public let detail: String

    public init(id: Int = 0, at: Date = Date(), kind: Kind, userID: Int?, email: String, clientIP: String, detail: String = "") {
        self.id = id
        self.at = at
        self.kind = kind
        self.userID = userID
        self.email = email
        self.clientIP = clientIP
        self.detail = detail
    }
}
