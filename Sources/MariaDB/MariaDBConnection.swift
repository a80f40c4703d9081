import CMariaDB
import Foundation

/// One connection to a MariaDB/MySQL server through the C connector, speaking only prepared
/// statements (values never become SQL text) in `utf8mb4`, with the session in UTC.
///
/// Every call blocks the calling thread: use a connection from one thread at a time, off any
/// event loop (the data layer runs these calls on NIO's thread pool).
public final class MariaDBConnection {
    private let handle: UnsafeMutablePointer<MYSQL>
    private var closed = false

    /// Connects; `requireTLS` insists on TLS with the server certificate verified.
    public init(host: String, port: Int, user: String, password: String, database: String,
                requireTLS: Bool = false, connectTimeoutSeconds: UInt32 = 5) throws {
        guard let handle = mysql_init(nil) else {
            throw MariaDBError(code: 0, sqlState: "HY000", message: "the MariaDB connector could not allocate a connection")
        }
        self.handle = handle
        var timeout = connectTimeoutSeconds
        mysql_options(handle, MYSQL_OPT_CONNECT_TIMEOUT, &timeout)
        mysql_options(handle, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        if requireTLS {
            var on: my_bool = 1
            mysql_options(handle, MYSQL_OPT_SSL_ENFORCE, &on)
            mysql_options(handle, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on)
        }
        guard mysql_real_connect(handle, host, user, password, database, UInt32(port), nil, 0) != nil else {
            let error = Self.error(of: handle)
            mysql_close(handle)
            closed = true
            throw error
        }
        do {
            _ = try execute("SET time_zone = '+00:00'")
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
    }

    public func close() {
        guard !closed else { return }
        closed = true
        mysql_close(handle)
    }

    /// True when the server answers (the seed's `pool_pre_ping`).
    public func ping() -> Bool {
        !closed && mysql_ping(handle) == 0
    }

    /// Prepares `sql` (with `?` placeholders), binds `values`, runs it, and reads every row.
    public func execute(_ sql: String, _ values: [MariaDBValue] = []) throws -> MariaDBResult {
        guard !closed else { throw MariaDBError(code: 2006, sqlState: "08S01", message: "the connection is closed") }
        guard let statement = mysql_stmt_init(handle) else { throw Self.error(of: handle) }
        defer { mysql_stmt_close(statement) }
        guard mysql_stmt_prepare(statement, sql, UInt(sql.utf8.count)) == 0 else {
            // Statements some servers will not prepare (BEGIN on MySQL and MariaDB before 10.6)
            // go through the text protocol; they never carry values.
            if mysql_stmt_errno(statement) == 1295, values.isEmpty { return try runUnprepared(sql) }
            throw Self.error(of: statement)
        }
        let expected = Int(mysql_stmt_param_count(statement))
        guard expected == values.count else {
            throw MariaDBError(code: 0, sqlState: "07001", message: "the statement has \(expected) placeholders but \(values.count) values were given")
        }
        let parameters = ParameterBinds(values)
        defer { parameters.release() }
        if expected > 0 {
            guard parameters.binds.withUnsafeMutableBufferPointer({ mysql_stmt_bind_param(statement, $0.baseAddress) }) == 0 else {
                throw Self.error(of: statement)
            }
        }
        guard mysql_stmt_execute(statement) == 0 else { throw Self.error(of: statement) }
        guard let metadata = mysql_stmt_result_metadata(statement) else {
            return MariaDBResult(columns: [], rows: [], affectedRows: mysql_stmt_affected_rows(statement),
                                 lastInsertID: mysql_stmt_insert_id(statement))
        }
        defer { mysql_free_result(metadata) }
        var updateMaxLength: my_bool = 1
        mysql_stmt_attr_set(statement, STMT_ATTR_UPDATE_MAX_LENGTH, &updateMaxLength)
        guard mysql_stmt_store_result(statement) == 0 else { throw Self.error(of: statement) }
        let count = Int(mysql_num_fields(metadata))
        guard let fields = mysql_fetch_fields(metadata) else { throw Self.error(of: statement) }
        let results = ResultBinds(fields: UnsafeBufferPointer(start: fields, count: count))
        defer { results.release() }
        guard results.binds.withUnsafeMutableBufferPointer({ mysql_stmt_bind_result(statement, $0.baseAddress) }) == 0 else {
            throw Self.error(of: statement)
        }
        var rows: [[MariaDBValue]] = []
        while true {
            let status = mysql_stmt_fetch(statement)
            if status == MYSQL_NO_DATA { break }
            guard status == 0 else {
                if status == MYSQL_DATA_TRUNCATED {
                    throw MariaDBError(code: 0, sqlState: "01004", message: "a value was longer than its column's reported length")
                }
                throw Self.error(of: statement)
            }
            rows.append(results.row())
        }
        return MariaDBResult(columns: results.names, rows: rows, affectedRows: mysql_stmt_affected_rows(statement),
                             lastInsertID: mysql_stmt_insert_id(statement))
    }

    private func runUnprepared(_ sql: String) throws -> MariaDBResult {
        guard mysql_real_query(handle, sql, UInt(sql.utf8.count)) == 0 else { throw Self.error(of: handle) }
        if let result = mysql_store_result(handle) { mysql_free_result(result) }
        return MariaDBResult(columns: [], rows: [], affectedRows: mysql_affected_rows(handle), lastInsertID: mysql_insert_id(handle))
    }

    private static func error(of handle: UnsafeMutablePointer<MYSQL>) -> MariaDBError {
        MariaDBError(code: mysql_errno(handle), sqlState: String(cString: mysql_sqlstate(handle)), message: String(cString: mysql_error(handle)))
    }

    private static func error(of statement: UnsafeMutablePointer<MYSQL_STMT>) -> MariaDBError {
        MariaDBError(code: mysql_stmt_errno(statement), sqlState: String(cString: mysql_stmt_sqlstate(statement)),
                     message: String(cString: mysql_stmt_error(statement)))
    }
}
