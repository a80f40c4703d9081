import Foundation

/// Every table of the portal's schema with its columns, in an order where a row's parents come
/// first: what `portal db copy` copies and checks. A migration that adds a table or a column adds
/// it here too (`DatabaseCopyTests` fails otherwise).
enum DataTables {
    enum ColumnType: Sendable {
        case int, string, bool, date
    }

    struct Column: Sendable {
        let name: String
        let type: ColumnType
        let optional: Bool
    }

    struct Table: Sendable {
        let name: String
        let columns: [Column]
        /// The column rows are ordered by (the primary key).
        let key: String
        /// True when the key is a number the database generates (its sequence is moved past the copied rows).
        let generatedKey: Bool
    }

    private static func column(_ name: String, _ type: ColumnType, optional: Bool = false) -> Column {
        Column(name: name, type: type, optional: optional)
    }

    static let all: [Table] = [
        Table(name: "users", columns: [
            column("id", .int), column("email", .string), column("name", .string), column("password_hash", .string),
            column("role", .string), column("active", .bool), column("created_at", .date, optional: true),
            column("updated_at", .date, optional: true),
        ], key: "id", generatedKey: true),
        Table(name: "tasks", columns: [
            column("id", .int), column("title", .string), column("description", .string), column("status", .string),
            column("due_date", .date, optional: true), column("assignee_id", .int), column("created_at", .date, optional: true),
            column("updated_at", .date, optional: true),
        ], key: "id", generatedKey: true),
        Table(name: "sessions", columns: [
            column("id", .string), column("user_id", .int), column("created_at", .date), column("last_seen_at", .date),
            column("expires_at", .date), column("client_ip", .string), column("user_agent", .string),
        ], key: "id", generatedKey: false),
        Table(name: "audit_events", columns: [
            column("id", .int), column("at", .date), column("kind", .string), column("user_id", .int, optional: true),
            column("email", .string), column("client_ip", .string), column("detail", .string),
        ], key: "id", generatedKey: true),
        Table(name: "api_tokens", columns: [
            column("id", .int), column("user_id", .int), column("name", .string), column("token_hash", .string),
            column("prefix", .string), column("scopes", .string), column("created_at", .date), column("expires_at", .date),
            column("last_used_at", .date, optional: true), column("revoked_at", .date, optional: true),
        ], key: "id", generatedKey: true),
        Table(name: "companies", columns: [
            column("id", .int), column("name", .string), column("cnpj", .string), column("responsible_id", .int),
            column("created_at", .date, optional: true), column("updated_at", .date, optional: true),
        ], key: "id", generatedKey: true),
    ]
}
