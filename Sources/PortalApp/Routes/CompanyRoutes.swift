import Foundation
import Hummingbird
import Logging
import PortalData

/// `GET /companies`: the companies (`empresas`) the signed-in user may see (those they are
/// responsible for as a `colaborador`, all for `gestor` and `admin`); `GET /companies/:id` one of
/// them; `POST /companies` registers one (managers and admins). Another user's company answers
/// 404 to a `colaborador`, exactly like one that does not exist.
struct CompanyRoutes {
    let services: AppServices
    let renderer: PageRenderer

    struct NewCompanyForm: Decodable {
        var name: String?
        var cnpj: String?
        var responsible: String?
    }

    func register(on router: Router<AppRequestContext>) {
        router.get("/companies") { request, context -> Response in
            guard let user = context.user else { return PageSupport.signIn(returningTo: request.uri.path) }
            return try await list(for: user, context: context)
        }
        router.get("/companies/:id") { request, context -> Response in
            guard let user = context.user else { return PageSupport.signIn(returningTo: request.uri.path) }
            guard let id = PageSupport.id(context),
                  let company = try await services.companies().company(id: id, visibleTo: user)
            else { return PageSupport.notFound(renderer, "Empresa não encontrada.") }
            let responsible = try await services.accounts().user(id: company.responsibleID)
            var values = PageSupport.base(user, context: context, services: services)
            values["company"] = ["name": company.name, "cnpj": company.formattedCNPJ,
                                 "responsible": responsible?.name ?? "—"] as [String: Any]
            return renderer.render("company", values)
        }
        router.post("/companies") { request, context -> Response in
            guard let user = context.user else { return PageSupport.signIn(returningTo: "/companies", afterForm: true) }
            guard user.role != .colaborador else {
                return renderer.render("forbidden", ["message": "Somente gestores e administradores cadastram empresas."],
                                       status: .forbidden)
            }
            let form = try await PageSupport.form(NewCompanyForm.self, from: request)
            let name = (form.name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !name.isEmpty, name.count <= 200 else {
                return try await list(for: user, context: context, error: "Informe a razão social (até 200 caracteres).", form: form)
            }
            guard let cnpj = CNPJ.normalized(form.cnpj ?? "") else {
                return try await list(for: user, context: context, error: "CNPJ inválido: confira os 14 dígitos.", form: form)
            }
            guard let responsibleID = Int(form.responsible ?? ""),
                  let responsible = try await services.accounts().user(id: responsibleID), responsible.active
            else {
                return try await list(for: user, context: context, error: "Escolha um responsável ativo.", form: form)
            }
            let company: CompanySummary
            do {
                company = try await services.companies().create(name: name, cnpj: cnpj, responsibleID: responsible.id)
            } catch is AccountError {
                return try await list(for: user, context: context, error: "Já existe uma empresa com este CNPJ.", form: form)
            }
            context.logger.info("company registered", metadata: ["company_id": "\(company.id)"])
            return Response.redirect(to: "/companies/\(company.id)", type: .normal)
        }
    }

    private func list(for user: UserAccount, context: AppRequestContext, error: String? = nil,
                      form: NewCompanyForm? = nil) async throws -> Response {
        let companies = try await services.companies().companies(visibleTo: user)
        let seesAll = user.role != .colaborador
        let users = seesAll ? try await services.accounts().users() : []
        let names = Dictionary(users.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        var values = PageSupport.base(user, context: context, services: services)
        values["seesAll"] = seesAll
        values["companies"] = companies.map { company -> [String: Any] in
            ["id": company.id, "name": company.name, "cnpj": company.formattedCNPJ,
             "responsible": names[company.responsibleID] ?? user.name]
        }
        values["hasCompanies"] = !companies.isEmpty
        values["people"] = users.filter(\.active).map { person -> [String: Any] in
            ["id": person.id, "name": person.name, "selected": form?.responsible == String(person.id)]
        }
        values["formName"] = form?.name ?? ""
        values["formCNPJ"] = form?.cnpj ?? ""
        if let error { values["error"] = error }
        return renderer.render("companies", values, status: error == nil ? .ok : .badRequest)
    }
}
