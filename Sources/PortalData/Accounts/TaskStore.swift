public import FluentKit
import Foundation

/// Tasks: what each user may see and change, by role, and creating new ones.
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

    /// The task with `id` when `user` may see it; nil otherwise (unknown and forbidden look alike).
    public func task(id: Int, visibleTo user: UserAccount) async throws -> TaskSummary? {
        try await visibleRecord(id: id, to: user)?.summary
    }

    /// Moves a task `user` may see to `status`; nil when there is no such task for them.
    public func setStatus(_ status: TaskStatus, taskID: Int, by user: UserAccount) async throws -> TaskSummary? {
        guard let record = try await visibleRecord(id: taskID, to: user) else { return nil }
        record.status = status.rawValue
        try await record.update(on: database)
        return record.summary
    }

    private func visibleRecord(id: Int, to user: UserAccount) async throws -> TaskItem? {
        guard let record = try await TaskItem.find(id, on: database) else { return nil }
        return user.role == .colaborador && record.$assignee.id != user.id ? nil : record
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

    /// Creates a task; the title must have 1 to 200 characters, the details at most 5,000, and
    /// the assignee must be an active user.
    @discardableResult
    public func create(title: String, details: String, status: TaskStatus, dueDate: Date?,
                       assigneeID: Int) async throws -> TaskSummary {
        let title = title.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !title.isEmpty, title.count <= 200 else { throw AccountError("the task title must have from 1 to 200 characters") }
        guard details.count <= 5_000 else { throw AccountError("the task details may have at most 5000 characters") }
        guard let assignee = try await User.find(assigneeID, on: database), assignee.active else {
            throw AccountError("the assignee \(assigneeID) does not exist or is inactive")
        }
        let item = TaskItem(title: title, details: details, status: status, dueDate: dueDate, assigneeID: assigneeID)
        try await item.create(on: database)
        guard let summary = item.summary else { throw AccountError("the new task has no id") }
        return summary
    }
}
