import Foundation
import Hummingbird
import PortalData

/// `GET /tasks`: the tasks the signed-in user may see (their own for a `colaborador`, all for
/// `gestor` and `admin`), rendered on the server (the seed's section 5).
struct TaskRoutes {
    let services: AppServices
    let renderer: PageRenderer

    func register(on router: Router<AppRequestContext>) {
        router.get("/") { _, context -> Response in
            Response.redirect(to: context.user == nil ? "/login" : "/tasks", type: .found)
        }
        router.get("/tasks") { request, context -> Response in
            guard let user = context.user else {
                return Response.redirect(to: "/login?next=\(Self.encode(request.uri.path))", type: .found)
            }
            let tasks = try await services.tasks().tasks(visibleTo: user)
            let seesAll = user.role != .colaborador
            let names = seesAll
                ? Dictionary(try await services.accounts().users().map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
                : [:]
            let rows: [[String: Any]] = tasks.map { task in
                [
                    "title": task.title,
                    "details": task.details,
                    "status": task.status.label,
                    "due": task.dueDate.map(Self.formatDate) ?? "—",
                    "assignee": names[task.assigneeID] ?? "—",
                ]
            }
            return renderer.render("tasks", [
                "user": PageRenderer.header(for: user),
                "seesAll": seesAll,
                "csrf": context.sessionToken.map { services.csrf.token(for: "session|" + $0) } ?? "",
                "tasks": rows,
                "hasTasks": !rows.isEmpty,
            ])
        }
    }

    static func formatDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "pt_BR")
        formatter.dateFormat = "dd/MM/yyyy"
        return formatter.string(from: date)
    }

    static func encode(_ path: String) -> String {
        path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? "/tasks"
    }
}
