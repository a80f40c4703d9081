#if MARIADB
import FluentKit
import FluentSQL
import Foundation
import Logging
import MariaDB
import NIOCore
import SQLKit

extension DatabaseID {
    static var mysql: DatabaseID { DatabaseID(string: "mysql") }
}

/// FluentKit's configuration for MariaDB/MySQL: one pool shared by every event loop.
struct FluentMariaDBConfiguration: DatabaseConfiguration {
    var middleware: [any AnyModelMiddleware] = []
    let pool: MariaDBConnectionPool

    func makeDriver(for databases: Databases) -> any DatabaseDriver {
        FluentMariaDBDriver(pool: pool)
    }
}

struct FluentMariaDBDriver: DatabaseDriver {
    let pool: MariaDBConnectionPool

    func makeDatabase(with context: DatabaseContext) -> any Database {
        FluentMariaDBDatabase(sql: MariaDBSQLDatabase(pool: pool, pinned: nil, logger: context.logger, eventLoop: context.eventLoop),
                              context: context, inTransaction: false)
    }

    func shutdown() {
        // FluentKit's synchronous shutdown cannot wait for the pool's actor; closing the idle
        // connections later is harmless, and `shutdownAsync` (what we call) waits for it.
        let pool = self.pool
        Task { await pool.shutdown() }
    }

    func shutdownAsync() async {
        await pool.shutdown()
    }
}

/// How FluentKit's schema types become MariaDB column types. Text is `VARCHAR(255)` so it can
/// be unique and indexed, as in the other engines' migrations; longer text gets its own type.
struct MariaDBConverterDelegate: SQLConverterDelegate {
    func customDataType(_ dataType: DatabaseSchema.DataType) -> (any SQLExpression)? {
        switch dataType {
        case .string: SQLRaw("VARCHAR(255)")
        case .datetime: SQLRaw("DATETIME(6)")
        case .date: SQLRaw("DATE")
        case .time: SQLRaw("TIME(6)")
        case .bool: SQLRaw("BOOLEAN")
        case .int8: SQLRaw("TINYINT")
        case .int16: SQLRaw("SMALLINT")
        case .int32: SQLRaw("INT")
        case .int64: SQLRaw("BIGINT")
        case .uint8: SQLRaw("TINYINT UNSIGNED")
        case .uint16: SQLRaw("SMALLINT UNSIGNED")
        case .uint32: SQLRaw("INT UNSIGNED")
        case .uint64: SQLRaw("BIGINT UNSIGNED")
        case .float: SQLRaw("FLOAT")
        case .double: SQLRaw("DOUBLE")
        case .data: SQLRaw("LONGBLOB")
        case .uuid: SQLRaw("CHAR(36)")
        case .dictionary, .array: SQLRaw("JSON")
        case .enum, .custom: nil
        }
    }
}

/// A FluentKit database on MariaDB/MySQL, also usable as an SQLKit database.
struct FluentMariaDBDatabase: Database, SQLDatabase, TransactionControlDatabase {
    let sql: MariaDBSQLDatabase
    let context: DatabaseContext
    /// True only inside `transaction` (a pinned connection alone is not a transaction).
    let inTransaction: Bool
    var logger: Logger { context.logger }
    var eventLoop: any EventLoop { context.eventLoop }
    var dialect: any SQLDialect { sql.dialect }
    var queryLogLevel: Logger.Level? { sql.queryLogLevel }

    func execute(query: DatabaseQuery, onOutput: @escaping @Sendable (any DatabaseOutput) -> Void) -> EventLoopFuture<Void> {
        let expression = SQLQueryConverter(delegate: MariaDBConverterDelegate()).convert(query)
        // MariaDB has no RETURNING for the generated key: it comes with the statement's result.
        if case .create = query.action, query.customIDKey != .some(.string("")) {
            let key = query.customIDKey ?? .id
            let promise = eventLoop.makePromise(of: Void.self)
            let sql = self.sql
            promise.completeWithTask {
                let result = try await sql.run(expression)
                onOutput(LastInsertOutput(key: key, id: result.lastInsertID))
            }
            return promise.futureResult
        }
        return sql.execute(sql: expression) { onOutput(MariaDBOutput(row: $0, schema: nil)) }
    }

    func execute(schema: DatabaseSchema) -> EventLoopFuture<Void> {
        sql.execute(sql: SQLSchemaConverter(delegate: MariaDBConverterDelegate()).convert(schema)) { _ in }
    }

    /// Enums are written inline in column types (`ENUM(...)`): there is nothing to create apart.
    func execute(enum: DatabaseEnum) -> EventLoopFuture<Void> {
        eventLoop.makeSucceededVoidFuture()
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        sql.execute(sql: query, onRow)
    }

    func transaction<T: Sendable>(_ closure: @escaping @Sendable (any Database) -> EventLoopFuture<T>) -> EventLoopFuture<T> {
        guard !inTransaction else { return closure(self) }
        return pinned(inTransaction: true) { database in
            database.raw("BEGIN").run().flatMap {
                closure(database).flatMap { value in
                    database.raw("COMMIT").run().map { value }
                }.flatMapError { error in
                    database.raw("ROLLBACK").run().flatMapThrowing { throw error }
                }
            }
        }
    }

    func withConnection<T: Sendable>(_ closure: @escaping @Sendable (any Database) -> EventLoopFuture<T>) -> EventLoopFuture<T> {
        guard sql.pinned == nil else { return closure(self) }
        return pinned(inTransaction: false, closure)
    }

    /// Runs `closure` on one connection of the pool, given back afterwards.
    private func pinned<T: Sendable>(inTransaction: Bool,
                                     _ closure: @escaping @Sendable (FluentMariaDBDatabase) -> EventLoopFuture<T>) -> EventLoopFuture<T> {
        let promise = eventLoop.makePromise(of: T.self)
        let sql = self.sql, context = self.context
        promise.completeWithTask {
            let connection = try await sql.pool.acquire()
            let database = FluentMariaDBDatabase(
                sql: MariaDBSQLDatabase(pool: sql.pool, pinned: connection, logger: sql.logger, eventLoop: sql.eventLoop),
                context: context, inTransaction: inTransaction)
            do {
                let value = try await closure(database).get()
                await sql.pool.release(connection, broken: false)
                return value
            } catch {
                await sql.pool.release(connection, broken: (error as? MariaDBError)?.isConnectionFailure ?? false)
                throw error
            }
        }
        return promise.futureResult
    }

    // Only on a pinned connection: on the pool, BEGIN and COMMIT could land on different ones.
    func beginTransaction() -> EventLoopFuture<Void> { onPinned("BEGIN") }
    func commitTransaction() -> EventLoopFuture<Void> { onPinned("COMMIT") }
    func rollbackTransaction() -> EventLoopFuture<Void> { onPinned("ROLLBACK") }

    private func onPinned(_ statement: String) -> EventLoopFuture<Void> {
        guard sql.pinned != nil else {
            return eventLoop.makeFailedFuture(MariaDBError(code: 0, sqlState: "25000",
                                                           message: "\(statement) needs one connection: use transaction or withConnection"))
        }
        return raw(SQLQueryString(statement)).run()
    }
}

/// A row as FluentKit reads it (with the schema prefix of joined models).
struct MariaDBOutput: DatabaseOutput {
    let row: any SQLRow
    let schema: String?

    var description: String { "\(row.allColumns)" }

    private func column(_ key: FieldKey) -> String {
        schema.map { FieldKey.prefix(.prefix(.string($0), "_"), key) }?.description ?? key.description
    }

    func schema(_ schema: String) -> any DatabaseOutput { MariaDBOutput(row: row, schema: schema) }
    func contains(_ key: FieldKey) -> Bool { row.contains(column: column(key)) }
    func decodeNil(_ key: FieldKey) throws -> Bool { try row.decodeNil(column: column(key)) }
    func decode<T: Decodable>(_ key: FieldKey, as type: T.Type) throws -> T { try row.decode(column: column(key), as: T.self) }
}

/// The generated key of an `INSERT`, as FluentKit expects it after `create`.
struct LastInsertOutput: DatabaseOutput {
    let key: FieldKey
    let id: UInt64

    var description: String { "\(key) = \(id)" }
    func schema(_ schema: String) -> any DatabaseOutput { self }
    func contains(_ key: FieldKey) -> Bool { key == self.key }
    func decodeNil(_ key: FieldKey) throws -> Bool { false }
    func decode<T: Decodable>(_ key: FieldKey, as type: T.Type) throws -> T {
        try MariaDBValueDecoder(value: .unsigned(id), column: key.description).decode(T.self)
    }
}
#endif
