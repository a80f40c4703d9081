public import FluentKit
import Foundation

/// The append-only audit log: events are added and read, never changed or removed by the app.
public struct AuditLog: Sendable {
    private let database: any Database

    public init(database: any Database) {
        self.database = database
    }

    public func record(_ event: AuditEvent) async throws {
        try await AuditEventRecord(event).create(on: database)
    }

    /// The newest events first, at most `limit`, optionally of one kind and whose e-mail, address
    /// or detail contains `text` (case-insensitive).
    public func events(kind: AuditEvent.Kind? = nil, containing text: String? = nil, limit: Int = 200) async throws -> [AuditEvent] {
        var query = AuditEventRecord.query(on: database).sort(\.$id, .descending)
        if let kind { query = query.filter(\.$kind == kind.rawValue) }
        let needle = text?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        if needle.isEmpty {
            return try await query.limit(limit).all().compactMap(\.event)
        }
        // Filtering in Swift keeps the match the same on every database (case and LIKE escaping
        // differ between SQLite, PostgreSQL and MariaDB); the scan is bounded.
        let scanned = try await query.limit(10_000).all().compactMap(\.event)
        return Array(scanned.filter { event in
            [event.email, event.clientIP, event.detail].contains { $0.lowercased().contains(needle) }
        }.prefix(limit))
    }
}
