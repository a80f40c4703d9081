import FluentKit
public import Foundation

/// A task (`tarefa`) assigned to a user, as listed on `/tasks`.
///
/// `@unchecked Sendable`: used only inside the request or command that loaded it (see `User`).
final class TaskItem: Model, @unchecked Sendable {
    static let schema = "tasks"

    @ID(custom: "id", generatedBy: .database) var id: Int?
    @Field(key: "title") var title: String
    @Field(key: "description") var details: String
    @Field(key: "status") var status: String
    @OptionalField(key: "due_date") var dueDate: Date?
    @Parent(key: "assignee_id") var assignee: User
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    init(title: String, details: String, status: TaskStatus, dueDate: Date?, assigneeID: Int) {
        self.title = title
        self.details = details
        self.status = status.rawValue
        self.dueDate = dueDate
        self.$assignee.id = assigneeID
    }

    var summary: TaskSummary? {
        guard let id else { return nil }
        return TaskSummary(id: id, title: title, details: details,
                           status: TaskStatus(rawValue: status) ?? .pending, dueDate: dueDate,
                           assigneeID: $assignee.id)
    }
}

/// A task as pages and the API show it.
public struct TaskSummary: Sendable, Equatable {
    public let id: Int
    public let title: String
    public let details: String
    public let status: TaskStatus
    public let dueDate: Date?
    /// The user the task is assigned to.
    public let assigneeID: Int
}

/// Where a task stands.
public enum TaskStatus: String, Sendable, CaseIterable {
    case pending = "pendente"
    case inProgress = "em_andamento"
    case done = "concluida"

    /// The label users see.
    public var label: String {
        switch self {
        case .pending: "Pendente"
        case .inProgress: "Em andamento"
        case .done: "Concluída"
        }
    }
}
