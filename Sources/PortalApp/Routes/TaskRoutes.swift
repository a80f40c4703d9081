import Foundation
import Hummingbird
import Logging
import PortalData

/// `GET /tasks`: the tasks the signed-in user may see (their own for a `colaborador`, all for
/// `gestor` and `admin`), rendered on the server (the seed's section 5); `GET /tasks/:id` one
/// task and `POST /tasks/:id/status` to move it along. Another user's task answers 404 to a
/// `colaborador`, exactly like a task that does not exist.
struct TaskRoutes {
    let services: AppServices
    let renderer: PageRenderer

    struct StatusForm: Decodable {
        var status: String?
    }

    func register(on router: Router<AppRequestContext>) {
        router.get("/") { _, context -> Response in
            Response.redirect(to: context.user == nil ? "/login" : "/tasks", type: .found)
        }
        router.get("/tasks") { request, context -> Response in
            guard let user = context.user else { return PageSupport.signIn(returningTo: request.uri.path) }
            let tasks = try await services.tasks().tasks(visibleTo: user)
            let seesAll = user.role != .colaborador
            let names = seesAll ? try await userNames() : [:]
            let rows: [[String: Any]] = tasks.map { task in
                [
                    "id": task.id,
                    "title": task.title,
                    "details": task.details,
                    "status": task.status.label,
                    "due": task.dueDate.map(PageSupport.date) ?? "—",
                    "assignee": names[task.assigneeID] ?? "—",
                ]
            }
            var values = PageSupport.base(user, context: context, services: services)
            values["seesAll"] = seesAll
            values["tasks"] = rows
            values["hasTasks"] = !rows.isEmpty
            return renderer.render("tasks", values)
        }
        router.get("/tasks/:id") { request, context -> Response in
            guard let user = context.user else { return PageSupport.signIn(returningTo: request.uri.path) }
            guard let id = PageSupport.id(context), let task = try await services.tasks().task(id: id, visibleTo: user) else {
                return PageSupport.notFound(renderer, "Tarefa não encontrada.")
            }
            return try await detail(task, user: user, context: context)
        }
        router.post("/tasks/:id/status") { request, context -> Response in
            guard let user = context.user else { return PageSupport.signIn(returningTo: request.uri.path, afterForm: true) }
            guard let id = PageSupport.id(context) else { return PageSupport.notFound(renderer, "Tarefa não encontrada.") }
            let form = try await PageSupport.form(StatusForm.self, from: request)
            guard let status = form.status.flatMap(TaskStatus.init(rawValue:)) else {
                throw HTTPError(.badRequest, message: "Situação desconhecida.")
            }
            guard try await services.tasks().setStatus(status, taskID: id, by: user) != nil else {
                return PageSupport.notFound(renderer, "Tarefa não encontrada.")
            }
            context.logger.info("task status changed", metadata: ["task_id": "\(id)", "status": "\(status.rawValue)"])
            return Response.redirect(to: "/tasks/\(id)", type: .normal)
        }
    }

    private func detail(_ task: TaskSummary, user: UserAccount, context: AppRequestContext) async throws -> Response {
        let assignee = try await services.accounts().user(id: task.assigneeID)
        var values = PageSupport.base(user, context: context, services: services)
        values["task"] = [
            "id": task.id,
            "title": task.title,
            "details": task.details,
            "status": task.status.label,
            "due": task.dueDate.map(PageSupport.date) ?? "—",
            "assignee": assignee?.name ?? "—",
        ] as [String: Any]
        values["statuses"] = TaskStatus.allCases.map { ["value": $0.rawValue, "label": $0.label, "selected": $0 == task.status] }
        return renderer.render("task", values)
    }

    private func userNames() async throws -> [Int: String] {
        Dictionary(try await services.accounts().users().map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
    }

}
