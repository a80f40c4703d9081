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
        let items = try await TaskItem.query(on: database)
            .filter(\.$assignee.$id == userID)
            .sort(\.$id)
            .all()
        let summaries = items.compactMap(\.summary)
        return summaries.sorted { lhs, rhs in
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
