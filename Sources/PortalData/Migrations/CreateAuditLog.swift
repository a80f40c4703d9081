import FluentKit

/// The audit log: one row per security-relevant event, never updated.
struct CreateAuditLog: AsyncMigration {
    var name: String { "002_audit_log" }

    func prepare(on database: any Database) async throws {
        try await database.schema("audit_events")
            .field("id", .int, .identifier(auto: true))
            .field("at", .datetime, .required)
            .field("kind", .string, .required)
            .field("user_id", .int)
            .field("email", .string, .required)
            .field("client_ip", .string, .required)
            .field("detail", .string, .required)
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("audit_events").delete()
    }
}
