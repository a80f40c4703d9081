public import FluentKit
import Foundation

/// Tasks: listing a user's tasks and creating new ones.
public struct TaskStore: Sendable {
    private let database: any Database

    public init(database: any Database) {
        self.database = database
    }

    /// The tasks assigned to `userID`, open ones first, then by due date.
    public func tasks(assignedTo userID: Int) async throws -> [TaskSummary] {
        Self.ordered(try await TaskItem.query(on: database).filter(\.$assignee.$id == userID).sort(\.$id).all())
    }

    /// What `user` may see: their own tasks for a `colaborador`, every task for `gestor` and `admin`.
    public func tasks(visibleTo user: UserAccount) async throws -> [TaskSummary] {
        switch user.role {
        case .colaborador: try await tasks(assignedTo: user.id)
        case .gestor, .admin: Self.ordered(try await TaskItem.query(on: database).sort(\.$id).all())
        }
    }

    /// Open tasks first, then by due date (undated last), then by id.
    private static func ordered(_ items: [TaskItem]) -> [TaskSummary] {
        items.compactMap(\.summary).sorted { lhs, rhs in
            if (lhs.status == .done) != (rhs.status == .done) { return rhs.status == .done }
            switch (lhs.dueDate, rhs.dueDate) {
            case let (left?, right?): return left < right
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return lhs.id < rhs.id
            }
        }
    }

    @discardableResult
    public func create(title: String, details: String, status: TaskStatus, dueDate: Date?,
                       assigneeID: Int) async throws -> TaskSummary {
        let item = TaskItem(title: title, details: details, status: status, dueDate: dueDate, assigneeID: assigneeID)
        try await item.create(on: database)
        guard let summary = item.summary else { throw AccountError("the new task has no id") }
        return summary
    }
}
