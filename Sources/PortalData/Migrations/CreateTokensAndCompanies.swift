import FluentKit

/// Personal API tokens and the companies (`empresas`) the office looks after.
struct CreateTokensAndCompanies: AsyncMigration {
    var name: String { "003_tokens_and_companies" }

    func prepare(on database: any Database) async throws {
        try await database.schema("api_tokens")
            .field("id", .int, .identifier(auto: true))
            .field("user_id", .int, .required, .references("users", "id", onDelete: .cascade))
            .field("name", .string, .required)
            .field("token_hash", .string, .required)
            .field("prefix", .string, .required)
            .field("scopes", .string, .required)
            .field("created_at", .datetime, .required)
            .field("expires_at", .datetime, .required)
            .field("last_used_at", .datetime)
            .field("revoked_at", .datetime)
            .unique(on: "token_hash")
            .create()
        try await database.schema("companies")
            .field("id", .int, .identifier(auto: true))
            .field("name", .string, .required)
            .field("cnpj", .string, .required)
            .field("responsible_id", .int, .required, .references("users", "id", onDelete: .restrict))
            .field("created_at", .datetime)
            .field("updated_at", .datetime)
            .unique(on: "cnpj")
            .create()
    }

    func revert(on database: any Database) async throws {
        try await database.schema("companies").delete()
        try await database.schema("api_tokens").delete()
    }
}
