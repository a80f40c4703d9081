import Foundation
import MariaDB
import PortalTestSupport
import Testing

/// The C-connector driver against a real MariaDB server (scripts/start-mariadb.sh).
@Suite("MariaDB driver", .enabled(if: ProcessInfo.processInfo.environment["TEST_MARIADB_URL"] != nil || ExternalTool.isCI,
                                  "no MariaDB server: run scripts/start-mariadb.sh and source .build-services/mariadb.env"))
struct MariaDBConnectionTests {
    struct Server {
        let host: String
        let port: Int
        let user: String
        let password: String
        let database: String

        static func fromEnvironment() throws -> Server {
            guard let text = ProcessInfo.processInfo.environment["TEST_MARIADB_URL"], let url = URLComponents(string: text),
                  let host = url.host, let port = url.port, let user = url.user, let password = url.password
            else { throw MariaDBError(code: 0, sqlState: "", message: "TEST_MARIADB_URL is not set: run scripts/start-mariadb.sh") }
            return Server(host: host, port: port, user: user, password: password, database: String(url.path.dropFirst()))
        }

        func connect(_ database: String? = nil) throws -> MariaDBConnection {
            try MariaDBConnection(host: host, port: port, user: user, password: password, database: database ?? self.database)
        }
    }

    /// A fresh database for one test, dropped afterwards.
    static func withDatabase(_ body: (MariaDBConnection) throws -> Void) throws {
        let server = try Server.fromEnvironment()
        let name = "portal_m_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        let admin = try server.connect()
        _ = try admin.execute("CREATE DATABASE \(name) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        defer { _ = try? admin.execute("DROP DATABASE \(name)") }
        let connection = try server.connect(name)
        try body(connection)
        connection.close()
    }

    @Test("every type goes in through a prepared statement and comes back the same")
    func roundTrip() throws {
        try Self.withDatabase { db in
            _ = try db.execute("""
                CREATE TABLE samples (id BIGINT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL, big BIGINT UNSIGNED NULL,
                  amount DECIMAL(14,2) NULL, ratio DOUBLE NULL, day DATE NULL, at DATETIME(6) NULL, stamp TIMESTAMP(6) NULL,
                  payload BLOB NULL, flag BOOLEAN NULL, name VARCHAR(100) NOT NULL, note TEXT NULL)
                """)
            let moment = Date(timeIntervalSince1970: 1_795_564_508.123456)
            let name = "Ana 🙂 ' OR 1=1; -- \\ \" <b>"
            let inserted = try db.execute(
                "INSERT INTO samples (n, big, amount, ratio, day, at, stamp, payload, flag, name, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [.int(-42), .unsigned(18_446_744_073_709_551_000), .decimal("1234567.89"), .double(0.125),
                 .date(year: 2026, month: 11, day: 25), .datetime(moment), .datetime(moment), .bytes([0, 1, 2, 255]),
                 .int(1), .text(name), .null])
            #expect(inserted.affectedRows == 1)
            #expect(inserted.lastInsertID == 1)
            let result = try db.execute("SELECT * FROM samples WHERE name = ?", [.text(name)])
            #expect(result.rows.count == 1)
            let row = try #require(result.rows.first)
            #expect(result.value("n", in: row) == .int(-42))
            #expect(result.value("big", in: row) == .unsigned(18_446_744_073_709_551_000))
            #expect(result.value("amount", in: row) == .decimal("1234567.89"))
            #expect(result.value("ratio", in: row) == .double(0.125))
            #expect(result.value("day", in: row) == .date(year: 2026, month: 11, day: 25))
            for column in ["at", "stamp"] {
                guard case .datetime(let date)? = result.value(column, in: row) else {
                    Issue.record("\(column) is not a date: \(String(describing: result.value(column, in: row)))")
                    continue
                }
                #expect(abs(date.timeIntervalSince(moment)) < 0.000_002, "\(column): \(date.timeIntervalSince1970)")
            }
            #expect(result.value("payload", in: row) == .bytes([0, 1, 2, 255]))
            #expect(result.value("flag", in: row)?.int == 1)
            #expect(result.value("name", in: row) == .text(name))
            #expect(result.value("note", in: row) == .null)
            // The hostile text stayed data: the table still holds one row.
            #expect(try db.execute("SELECT COUNT(*) AS n FROM samples").rows.first?.first?.int == 1)
        }
    }

    @Test("errors carry the server's code and SQLSTATE; a wrong placeholder count is refused before running")
    func errors() throws {
        try Self.withDatabase { db in
            _ = try db.execute("CREATE TABLE users (email VARCHAR(100) PRIMARY KEY)")
            _ = try db.execute("INSERT INTO users (email) VALUES (?)", [.text("ana@escritorio.com.br")])
            do {
                _ = try db.execute("INSERT INTO users (email) VALUES (?)", [.text("ana@escritorio.com.br")])
                Issue.record("a duplicate key was accepted")
            } catch let error as MariaDBError {
                #expect(error.code == 1062)
                #expect(error.sqlState == "23000")
                #expect(!error.isConnectionFailure)
            }
            #expect(throws: MariaDBError.self) { _ = try db.execute("SELECT ? + ?", [.int(1)]) }
            #expect(throws: MariaDBError.self) { _ = try db.execute("SELEC nothing") }
            #expect(db.ping())
            db.close()
            #expect(!db.ping())
        }
    }

    @Test("a wrong password or an unreachable server is a clear error")
    func connectionFailures() throws {
        let server = try Server.fromEnvironment()
        do {
            _ = try MariaDBConnection(host: server.host, port: server.port, user: server.user, password: "errada", database: server.database)
            Issue.record("a wrong password connected")
        } catch let error as MariaDBError {
            #expect(error.code == 1045)
        }
        let closed = try FreePort.allocate()
        do {
            _ = try MariaDBConnection(host: "127.0.0.1", port: closed, user: "x", password: "y", database: "z", connectTimeoutSeconds: 2)
            Issue.record("a closed port connected")
        } catch let error as MariaDBError {
            #expect(error.isConnectionFailure, "\(error)")
        }
    }
}
