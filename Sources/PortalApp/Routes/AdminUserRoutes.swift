import Foundation
import Hummingbird
import Logging
import PortalData

/// `GET /admin/users`: the users, for admins, with forms to create one (its first password is
/// generated and shown once), deactivate or reactivate, change the role, and reset the password
/// (a new one shown once; every session ends). The same rules as `portal user`: the last active
/// admin cannot be deactivated or demoted. Every change is audited with the admin who made it.
struct AdminUserRoutes {
    let services: AppServices
    let renderer: PageRenderer

    struct NewUserForm: Decodable {
        var email: String?
        var name: String?
        var role: String?
    }

    struct RoleForm: Decodable {
        var role: String?
    }

    func register(on router: Router<AppRequestContext>) {
        router.get("/admin/users") { _, context -> Response in
            guard let admin = context.user, admin.role == .admin else { return refusal(context) }
            return try await page(for: admin, context: context)
        }
        router.post("/admin/users") { request, context -> Response in
            guard let admin = context.user, admin.role == .admin else { return refusal(context, afterForm: true) }
            let form = try await PageSupport.form(NewUserForm.self, from: request)
            guard let role = Role(rawValue: form.role ?? "") else {
                return try await page(for: admin, context: context, error: "Escolha o perfil do novo usuário.", form: form)
            }
            let password = PasswordGenerator.make()
            let user: UserAccount
            do {
                user = try await services.accounts().createUser(email: form.email ?? "", name: form.name ?? "",
                                                                password: password, role: role)
            } catch let error as AccountError {
                return try await page(for: admin, context: context, error: Self.portuguese(error), form: form)
            }
            try await record(.userCreated, user, by: admin, context: context, detail: "perfil \(role.rawValue)")
            return try await page(for: admin, context: context,
                                  notice: ["email": user.email, "password": password, "created": true], status: .created)
        }
        router.post("/admin/users/:id/deactivate") { _, context -> Response in
            try await change(context) { admin, user in
                let after = try await services.accounts().setActive(false, email: user.email)
                try await record(.userDeactivated, after, by: admin, context: context)
                return nil
            }
        }
        router.post("/admin/users/:id/activate") { _, context -> Response in
            try await change(context) { admin, user in
                let after = try await services.accounts().setActive(true, email: user.email)
                try await record(.userActivated, after, by: admin, context: context)
                return nil
            }
        }
        router.post("/admin/users/:id/role") { request, context -> Response in
            guard context.user?.role == .admin else { return refusal(context, afterForm: true) }
            let form = try await PageSupport.form(RoleForm.self, from: request)
            guard let role = Role(rawValue: form.role ?? "") else { throw HTTPError(.badRequest, message: "Perfil desconhecido.") }
            return try await change(context) { admin, user in
                guard role != user.role else { return nil }
                let after = try await services.accounts().setRole(role, email: user.email)
                try await record(.roleChanged, after, by: admin, context: context, detail: "\(user.role.rawValue) → \(role.rawValue)")
                return nil
            }
        }
        router.post("/admin/users/:id/reset-password") { _, context -> Response in
            try await change(context) { admin, user in
                let password = PasswordGenerator.make()
                let after = try await services.accounts().setPassword(password, email: user.email)
                try await record(.passwordChanged, after, by: admin, context: context, detail: "senha redefinida")
                return ["email": after.email, "password": password, "created": false]
            }
        }
    }

    /// Not signed in: to the login page; signed in but not an admin: the refusal page.
    private func refusal(_ context: AppRequestContext, afterForm: Bool = false) -> Response {
        guard context.user != nil else { return PageSupport.signIn(returningTo: "/admin/users", afterForm: afterForm) }
        return renderer.render("forbidden", ["message": "Esta página é restrita a administradores."], status: .forbidden)
    }

    /// Runs one change on the user in the path; a refused change (the last admin) shows the page
    /// with the reason. `action` may return a password notice to show once.
    private func change(_ context: AppRequestContext,
                        _ action: (UserAccount, UserAccount) async throws -> [String: Any]?) async throws -> Response {
        guard let admin = context.user, admin.role == .admin else { return refusal(context, afterForm: true) }
        guard let id = PageSupport.id(context), let user = try await services.accounts().user(id: id) else {
            return PageSupport.notFound(renderer, "Usuário não encontrado.")
        }
        let notice: [String: Any]?
        do {
            notice = try await action(admin, user)
        } catch let error as AccountError {
            return try await page(for: admin, context: context, error: Self.portuguese(error))
        }
        // An admin who deactivated their own account has just ended their own session.
        if user.id == admin.id, try await services.accounts().user(id: admin.id)?.active == false {
            return Response.redirect(to: "/login", type: .normal)
        }
        if let notice { return try await page(for: admin, context: context, notice: notice) }
        return Response.redirect(to: "/admin/users", type: .normal)
    }

    private func record(_ kind: AuditEvent.Kind, _ user: UserAccount, by admin: UserAccount, context: AppRequestContext,
                        detail: String = "") async throws {
        context.logger.info("user changed by an admin", metadata: ["kind": "\(kind.rawValue)", "target_user_id": "\(user.id)"])
        let by = "por \(admin.email)"
        try await services.audit().record(AuditEvent(kind: kind, userID: user.id, email: user.email, clientIP: context.origin.clientAddress,
                                                     detail: detail.isEmpty ? by : "\(detail), \(by)"))
    }

    private func page(for admin: UserAccount, context: AppRequestContext, error: String? = nil, form: NewUserForm? = nil,
                      notice: [String: Any]? = nil, status: HTTPResponse.Status? = nil) async throws -> Response {
        let users = try await services.accounts().users()
        var values = PageSupport.base(admin, context: context, services: services)
        values["users"] = users.map { user -> [String: Any] in
            [
                "id": user.id, "email": user.email, "name": user.name, "active": user.active,
                "roleLabel": Self.label(user.role), "isSelf": user.id == admin.id,
                "roles": Role.allCases.map { ["value": $0.rawValue, "label": Self.label($0), "selected": $0 == user.role] },
            ]
        }
        values["roles"] = Role.allCases.map { ["value": $0.rawValue, "label": Self.label($0), "selected": $0.rawValue == (form?.role ?? "colaborador")] }
        values["formEmail"] = form?.email ?? ""
        values["formName"] = form?.name ?? ""
        if let error { values["error"] = error }
        if let notice { values["notice"] = notice }
        return renderer.render("admin_users", values, status: status ?? (error == nil ? .ok : .badRequest))
    }

    static func label(_ role: Role) -> String {
        switch role {
        case .admin: "Administrador"
        case .gestor: "Gestor"
        case .colaborador: "Colaborador"
        }
    }

    /// The store's reasons (written for the command line) as the page tells them.
    static func portuguese(_ error: AccountError) -> String {
        let text = error.description
        if text.contains("already exists") { return "Já existe um usuário com este e-mail." }
        if text.contains("not a valid e-mail") { return "Informe um e-mail válido." }
        if text.contains("the name must") { return "Informe o nome (1 a 120 caracteres)." }
        if text.contains("only active admin") { return "Esta é a única conta de administrador ativa: torne outro usuário administrador antes." }
        return "Não foi possível concluir a alteração."
    }
}
