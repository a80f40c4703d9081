public import Foundation

/// A value sent to or read from MariaDB/MySQL through a prepared statement.
public enum MariaDBValue: Sendable, Equatable {
    case null
    case int(Int64)
    case unsigned(UInt64)
    case double(Double)
    /// `DECIMAL` kept as its exact text (`"1234.56"`), never rounded through a `Double`.
    case decimal(String)
    case text(String)
    case bytes([UInt8])
    /// `DATE`: a day without a time.
    case date(year: Int, month: Int, day: Int)
    /// `DATETIME`/`TIMESTAMP` in UTC (the session's time zone), to the microsecond.
    case datetime(Date)

    /// The value as an integer when it is one (booleans are `TINYINT(1)`).
    public var int: Int64? {
        switch self {
        case .int(let value): value
        case .unsigned(let value): Int64(exactly: value)
        default: nil
        }
    }

    public var text: String? {
        switch self {
        case .text(let value), .decimal(let value): value
        case .bytes(let bytes): String(bytes: bytes, encoding: .utf8)
        default: nil
        }
    }
}

/// Rows and counts from one statement.
public struct MariaDBResult: Sendable {
    public let columns: [String]
    public let rows: [[MariaDBValue]]
    public let affectedRows: UInt64
    /// The `AUTO_INCREMENT` value the statement generated, or 0.
    public let lastInsertID: UInt64

    /// The value of `column` in `row`, or nil when there is no such column.
    public func value(_ column: String, in row: [MariaDBValue]) -> MariaDBValue? {
        columns.firstIndex(of: column).map { row[$0] }
    }
}

/// A failure reported by the server or the connector, with its error number and SQLSTATE.
public struct MariaDBError: Error, CustomStringConvertible, Sendable {
    public let code: UInt32
    public let sqlState: String
    public let message: String

    public init(code: UInt32, sqlState: String, message: String) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
    }

    public var description: String {
        code == 0 ? message : "MariaDB error \(code) (\(sqlState)): \(message)"
    }

    /// Errors that mean the connection is gone or was never made (2002-2013 and friends).
    public var isConnectionFailure: Bool {
        [2002, 2003, 2005, 2006, 2013, 2026, 2055, 1927, 1053].contains(code) || sqlState.hasPrefix("08")
    }
}
