import Foundation
import Hummingbird
import Logging
import PortalCore
import PortalData

/// `/api/v1`: the portal's REST API for scripts, authenticated by personal tokens
/// (`APITokenMiddleware`). The same role rules as the pages: a `colaborador` reaches only their
/// own tasks and companies; any other id answers 404, exactly like an id that does not exist.
struct APIRoutes {
    static let prefix = "/api/v1"
    let services: AppServices

    struct NewTask: Decodable {
        var title: String
        var details: String?
        var dueDate: String?
        var assigneeId: Int?
        var status: String?
    }

    struct TaskChange: Decodable {
        var status: String?
        var title: String?
    }

    func register(on router: Router<AppRequestContext>) {
        let limit = services.settings.apiRequestsPerMinutePerToken
        let api = router.group(RouterPath(Self.prefix))
            .add(middleware: APITokenMiddleware(services: services,
                                                limiter: limit > 0 ? ClientRateLimiter(perMinute: limit) : nil))
        api.get("me") { _, context -> Response in
            let user = try Self.user(context)
            struct Me: Encodable {
                let id: Int, email: String, name: String, role: String, tokenScope: String, tokenExpiresAt: Date
            }
            return APIJSON.response(Me(id: user.id, email: user.email, name: user.name, role: user.role.rawValue,
                                       tokenScope: context.apiToken?.scope.rawValue ?? "",
                                       tokenExpiresAt: context.apiToken?.expiresAt ?? Date()))
        }
        api.get("tasks") { _, context -> Response in
            let tasks = try await services.tasks().tasks(visibleTo: try Self.user(context))
            struct List: Encodable { let tasks: [TaskPayload] }
            return APIJSON.response(List(tasks: tasks.map(TaskPayload.init)))
        }
        api.get("tasks/:id") { _, context -> Response in
            let task = try await services.tasks().task(id: try Self.id(context), visibleTo: try Self.user(context))
            guard let task else { throw APIProblem.notFound("Tarefa não encontrada.") }
            return APIJSON.response(TaskPayload(task))
        }
        api.post("tasks") { request, context -> Response in
            let user = try Self.user(context)
            let input = try await APIJSON.decode(NewTask.self, from: request, context: context)
            let task = try await create(input, by: user, context: context)
            var response = APIJSON.response(TaskPayload(task), status: .created)
            response.headers[.location] = "/api/v1/tasks/\(task.id)"
            return response
        }
        api.patch("tasks/:id") { request, context -> Response in
            let user = try Self.user(context)
            let id = try Self.id(context)
            let change = try await APIJSON.decode(TaskChange.self, from: request, context: context)
            guard change.title == nil else { throw APIProblem.invalid("Somente o campo \"status\" pode ser alterado.") }
            guard let text = change.status else { throw APIProblem.invalid("Informe o novo \"status\".") }
            let status = try Self.status(text)
            guard let task = try await services.tasks().setStatus(status, taskID: id, by: user) else {
                throw APIProblem.notFound("Tarefa não encontrada.")
            }
            context.logger.info("task status changed through the API", metadata: ["task_id": "\(id)", "status": "\(status.rawValue)"])
            return APIJSON.response(TaskPayload(task))
        }
        api.get("companies") { _, context -> Response in
            let companies = try await services.companies().companies(visibleTo: try Self.user(context))
            struct List: Encodable { let companies: [CompanyPayload] }
            return APIJSON.response(List(companies: companies.map(CompanyPayload.init)))
        }
        api.get("companies/:id") { _, context -> Response in
            let company = try await services.companies().company(id: try Self.id(context), visibleTo: try Self.user(context))
            guard let company else { throw APIProblem.notFound("Empresa não encontrada.") }
            return APIJSON.response(CompanyPayload(company))
        }
        // Anything else under /api/v1 answers in JSON too, after the token check.
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] {
            api.on("**", method: method) { _, _ -> Response in
                throw APIProblem.notFound("Rota da API desconhecida.")
            }
        }
    }

    /// A `colaborador` may only create tasks for themselves; managers and admins for any active user.
    private func create(_ input: NewTask, by user: UserAccount, context: AppRequestContext) async throws -> TaskSummary {
        let title = input.title.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !title.isEmpty, title.count <= 200 else { throw APIProblem.invalid("O título deve ter de 1 a 200 caracteres.") }
        let details = input.details ?? ""
        guard details.count <= 5_000 else { throw APIProblem.invalid("A descrição pode ter no máximo 5000 caracteres.") }
        var due: Date?
        if let text = input.dueDate {
            guard let date = APIJSON.day(text) else { throw APIProblem.invalid("\"due_date\" deve ser uma data AAAA-MM-DD.") }
            due = date
        }
        let status = try input.status.map(Self.status) ?? .pending
        let assigneeID = input.assigneeId ?? user.id
        if user.role == .colaborador, assigneeID != user.id {
            throw APIProblem(status: .forbidden, code: "forbidden",
                             message: "Colaboradores só podem criar tarefas para si mesmos.")
        }
        guard let assignee = try await services.accounts().user(id: assigneeID), assignee.active else {
            throw APIProblem.invalid("\"assignee_id\" não é um usuário ativo.")
        }
        let task = try await services.tasks().create(title: title, details: details, status: status, dueDate: due,
                                                     assigneeID: assignee.id)
        context.logger.info("task created through the API", metadata: ["task_id": "\(task.id)"])
        return task
    }

    private static func user(_ context: AppRequestContext) throws -> UserAccount {
        guard let user = context.user else { throw APIProblem.unauthenticated(tokenWasSent: false) }
        return user
    }

    private static func id(_ context: AppRequestContext) throws -> Int {
        guard let text = context.parameters.get("id"), let id = Int(text), id > 0 else {
            throw APIProblem.notFound()
        }
        return id
    }

    private static func status(_ text: String) throws -> TaskStatus {
        guard let status = TaskStatus(rawValue: text) else {
            let allowed = TaskStatus.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw APIProblem.invalid("\"status\" deve ser um de: \(allowed).")
        }
        return status
    }
}
