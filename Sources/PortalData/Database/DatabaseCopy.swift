import Crypto
import Foundation
public import Logging
import PortalCore
import SQLKit

/// `portal db copy`: every row of the current database into a new, empty one (another engine,
/// usually a PostgreSQL server), then row counts and a checksum per table compared on both
/// sides. The way from the embedded SQLite file to a server.
public struct DatabaseCopy: Sendable {
    /// What was copied, table by table.
    public struct Report: Sendable {
        public let rows: [(table: String, count: Int)]
    }

    let source: PortalDatabase
    let target: PortalDatabase

    /// The tables copied and checked, parents first.
    public static var tables: [String] { DataTables.all.map(\.name) }

    public init(from source: PortalDatabase, to target: PortalDatabase) {
        self.source = source
        self.target = target
    }

    /// Migrates the target, refuses it when it holds data, copies, and verifies.
    public func run(logger: Logger) async throws -> Report {
        try await source.migrate()
        try await target.migrate()
        guard let from = try source.database() as? any SQLDatabase, let to = try target.database() as? any SQLDatabase else {
            throw BackupError("both databases must speak SQL")
        }
        for table in DataTables.all {
            let count = try await Self.count(table.name, in: to)
            if count > 0 { throw BackupError("the target database is not empty (\(table.name) has \(count) rows); copy into a new database") }
        }
        var report: [(String, Int)] = []
        for table in DataTables.all {
            let rows = try await from.raw(Self.select(table)).all()
            for row in rows {
                var insert = SQLQueryString("INSERT INTO \(ident: table.name) (")
                for (index, column) in table.columns.enumerated() {
                    if index > 0 { insert.appendLiteral(", ") }
                    insert.appendInterpolation(ident: column.name)
                }
                insert.appendLiteral(") VALUES (")
                for (index, column) in table.columns.enumerated() {
                    if index > 0 { insert.appendLiteral(", ") }
                    try Self.appendValue(of: column, from: row, to: &insert)
                }
                insert.appendLiteral(")")
                try await to.raw(insert).run()
            }
            if table.generatedKey, to.dialect.name == "postgresql", !rows.isEmpty {
                try await to.raw("SELECT setval(pg_get_serial_sequence(\(bind: table.name), \(bind: table.key)), (SELECT max(\(ident: table.key)) FROM \(ident: table.name)))").run()
            }
            logger.info("table copied", metadata: ["table": "\(table.name)", "rows": "\(rows.count)"])
            report.append((table.name, rows.count))
        }
        for table in DataTables.all {
            let (sourceCount, sourceSum) = try await Self.fingerprint(table, in: from)
            let (targetCount, targetSum) = try await Self.fingerprint(table, in: to)
            guard sourceCount == targetCount, sourceSum == targetSum else {
                throw BackupError("verification failed for \(table.name): \(sourceCount) rows (checksum \(sourceSum.prefix(12))) in the source, \(targetCount) (\(targetSum.prefix(12))) in the target")
            }
        }
        return Report(rows: report)
    }

    private static func select(_ table: DataTables.Table) -> SQLQueryString {
        "SELECT * FROM \(ident: table.name) ORDER BY \(ident: table.key)"
    }

    private static func count(_ table: String, in database: any SQLDatabase) async throws -> Int {
        try await database.raw("SELECT count(*) AS n FROM \(ident: table)").all().first?.decode(column: "n", as: Int.self) ?? 0
    }

    private static func appendValue(of column: DataTables.Column, from row: any SQLRow, to query: inout SQLQueryString) throws {
        switch (column.type, column.optional) {
        case (.int, false): query.appendInterpolation(bind: try row.decode(column: column.name, as: Int.self))
        case (.int, true): query.appendInterpolation(bind: try row.decode(column: column.name, as: Int?.self))
        case (.string, false): query.appendInterpolation(bind: try row.decode(column: column.name, as: String.self))
        case (.string, true): query.appendInterpolation(bind: try row.decode(column: column.name, as: String?.self))
        case (.bool, false): query.appendInterpolation(bind: try row.decode(column: column.name, as: Bool.self))
        case (.bool, true): query.appendInterpolation(bind: try row.decode(column: column.name, as: Bool?.self))
        case (.date, false): query.appendInterpolation(bind: try row.decode(column: column.name, as: Date.self))
        case (.date, true): query.appendInterpolation(bind: try row.decode(column: column.name, as: Date?.self))
        }
    }

    /// Row count and SHA-256 over every row rendered the same way on every engine (dates to
    /// the millisecond, as engines keep different precision).
    static func fingerprint(_ table: DataTables.Table, in database: any SQLDatabase) async throws -> (Int, String) {
        var hasher = SHA256()
        let rows = try await database.raw(select(table)).all()
        for row in rows {
            var fields: [String] = []
            for column in table.columns {
                switch column.type {
                case .int: fields.append(try row.decode(column: column.name, as: Int?.self).map(String.init) ?? "∅")
                case .string: fields.append(try row.decode(column: column.name, as: String?.self) ?? "∅")
                case .bool: fields.append(try row.decode(column: column.name, as: Bool?.self).map { $0 ? "1" : "0" } ?? "∅")
                case .date:
                    fields.append(try row.decode(column: column.name, as: Date?.self)
                        .map { String(Int64(($0.timeIntervalSince1970 * 1000).rounded())) } ?? "∅")
                }
            }
            hasher.update(data: Data((fields.joined(separator: "\u{1F}") + "\u{1E}").utf8))
        }
        return (rows.count, HexDigest.string(hasher.finalize()))
    }
}
