#if MARIADB
import Foundation
import Logging
import MariaDB
import NIOCore
import NIOPosix
import SQLKit

/// SQLKit on MariaDB/MySQL: expressions serialized with `?` placeholders, every value bound to
/// a prepared statement, rows decoded through `MariaDBRow`. Runs on the pool, or on one pinned
/// connection inside a transaction.
struct MariaDBSQLDatabase: SQLDatabase {
    let pool: MariaDBConnectionPool
    /// The connection of the transaction this database belongs to, if any.
    let pinned: PooledConnection?
    let logger: Logger
    let eventLoop: any EventLoop
    var dialect: any SQLDialect { MariaDBDialect() }
    var queryLogLevel: Logger.Level? { .trace }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        promise.completeWithTask {
            let result = try await run(query)
            for row in result.rows { onRow(MariaDBRow(columns: result.columns, values: row)) }
        }
        return promise.futureResult
    }

    /// Runs `query` and returns the whole result (the last insert id included).
    func run(_ query: any SQLExpression) async throws -> MariaDBResult {
        let (sql, binds) = serialize(query)
        let values = try binds.map(MariaDBBind.value)
        logger.trace("SQL", metadata: ["sql": "\(sql)"])
        if let pinned {
            return try await NIOThreadPool.singleton.runIfActive { try pinned.use { try $0.execute(sql, values) } }
        }
        return try await pool.withConnection { try $0.execute(sql, values) }
    }
}

/// MariaDB's SQL: backquoted identifiers, `?` placeholders, `AUTO_INCREMENT`, no `RETURNING`.
struct MariaDBDialect: SQLDialect {
    var name: String { "mysql" }
    var identifierQuote: any SQLExpression { SQLRaw("`") }
    var literalStringQuote: any SQLExpression { SQLRaw("'") }
    var supportsAutoIncrement: Bool { true }
    var autoIncrementClause: any SQLExpression { SQLRaw("AUTO_INCREMENT") }
    func bindPlaceholder(at position: Int) -> any SQLExpression { SQLRaw("?") }
    func literalBoolean(_ value: Bool) -> any SQLExpression { SQLRaw(value ? "1" : "0") }
    var enumSyntax: SQLEnumSyntax { .inline }
    var supportsReturning: Bool { false }
    var alterTableSyntax: SQLAlterTableSyntax {
        SQLAlterTableSyntax(alterColumnDefinitionClause: SQLRaw("MODIFY COLUMN"), alterColumnDefinitionTypeKeyword: nil)
    }
    var upsertSyntax: SQLUpsertSyntax { .mysqlLike }
    var exclusiveSelectLockExpression: (any SQLExpression)? { SQLRaw("FOR UPDATE") }
    var sharedSelectLockExpression: (any SQLExpression)? { SQLRaw("LOCK IN SHARE MODE") }

}

/// One row of a result, decoded column by column.
struct MariaDBRow: SQLRow {
    let columns: [String]
    let values: [MariaDBValue]

    var allColumns: [String] { columns }

    func contains(column: String) -> Bool {
        columns.contains(column)
    }

    func decodeNil(column: String) throws -> Bool {
        try value(column) == .null
    }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        try MariaDBValueDecoder(value: try value(column), column: column).decode(D.self)
    }

    private func value(_ column: String) throws -> MariaDBValue {
        guard let index = columns.firstIndex(of: column) else {
            throw DecodingError.keyNotFound(MariaDBColumnKey(column), .init(codingPath: [], debugDescription: "no column \(column)"))
        }
        return values[index]
    }
}

struct MariaDBColumnKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Turns SQLKit's bound values into connector values.
enum MariaDBBind {
    static func value(_ bind: any Encodable & Sendable) throws -> MariaDBValue {
        switch bind {
        case let value as Date: return .datetime(value)
        case let value as Data: return .bytes(Array(value))
        case let value as [UInt8]: return .bytes(value)
        case let value as UUID: return .text(value.uuidString)
        case let value as Decimal: return .decimal("\(value)")
        default:
            let encoder = MariaDBValueEncoder()
            try encoder.encode(bind)
            if encoder.needsJSON {
                return .text(String(decoding: try JSONEncoder().encode(bind), as: UTF8.self))
            }
            return encoder.result ?? .null
        }
    }
}
#endif
