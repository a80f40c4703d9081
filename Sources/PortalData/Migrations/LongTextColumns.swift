import FluentKit
import SQLKit

/// Task descriptions (up to 5,000 characters) and audit details are longer than MariaDB's
/// `VARCHAR(255)`, the type text columns get there; SQLite and PostgreSQL text has no such
/// limit, so this changes nothing on them.
struct LongTextColumns: AsyncMigration {
    var name: String { "004_long_text_columns" }

    func prepare(on database: any Database) async throws {
        guard let sql = database as? any SQLDatabase, sql.dialect.name == "mysql" else { return }
        try await sql.raw("ALTER TABLE tasks MODIFY description TEXT NOT NULL").run()
        try await sql.raw("ALTER TABLE audit_events MODIFY detail TEXT NOT NULL").run()
    }

    func revert(on database: any Database) async throws {
        guard let sql = database as? any SQLDatabase, sql.dialect.name == "mysql" else { return }
        try await sql.raw("ALTER TABLE tasks MODIFY description VARCHAR(255) NOT NULL").run()
        try await sql.raw("ALTER TABLE audit_events MODIFY detail VARCHAR(255) NOT NULL").run()
    }
}
