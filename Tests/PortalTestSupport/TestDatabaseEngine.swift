import FluentKit
import Foundation
public import Logging
import PortalCore
import PortalData
import SQLKit

/// The database engines the data-layer tests run on: SQLite always; PostgreSQL when
/// `TEST_POSTGRES_URL` names a server (scripts/start-postgres.sh starts one), and
/// always in CI, where a missing server fails the test instead of skipping it.
public enum TestDatabaseEngine: String, Sendable, CaseIterable {
    case sqlite
    case postgres
    case mariadb

    public static var available: [TestDatabaseEngine] {
        let environment = ProcessInfo.processInfo.environment
        var engines: [TestDatabaseEngine] = [.sqlite]
        if environment["TEST_POSTGRES_URL"] != nil || ExternalTool.isCI { engines.append(.postgres) }
        if environment["TEST_MARIADB_URL"] != nil || ExternalTool.isCI { engines.append(.mariadb) }
        return engines
    }

    /// A URL for a fresh, empty database of this engine (nil: the SQLite file in the data folder),
    /// and how to drop it afterwards.
    public func freshDatabase(logger: Logger) async throws -> (url: String?, drop: @Sendable () async -> Void) {
        switch self {
        case .sqlite:
            return (nil, {})
        case .postgres, .mariadb:
            let variable = self == .postgres ? "TEST_POSTGRES_URL" : "TEST_MARIADB_URL"
            let script = self == .postgres ? "start-postgres.sh" : "start-mariadb.sh"
            guard let server = ProcessInfo.processInfo.environment[variable], var components = URLComponents(string: server) else {
                throw TestDatabaseError("\(variable) is not set: run scripts/\(script) and source .build-services/\(rawValue == "postgres" ? "postgres" : "mariadb").env")
            }
            let name = "portal_t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
            let create = self == .postgres ? "CREATE DATABASE \(name)" : "CREATE DATABASE \(name) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            let dropStatement = self == .postgres ? "DROP DATABASE IF EXISTS \(name) WITH (FORCE)" : "DROP DATABASE IF EXISTS \(name)"
            try await Self.onServer(server, logger: logger) { try await $0.raw(SQLQueryString(create)).run() }
            components.path = "/" + name
            guard let url = components.string else { throw TestDatabaseError("cannot build a URL for \(name)") }
            return (url, {
                try? await Self.onServer(server, logger: logger) { try await $0.raw(SQLQueryString(dropStatement)).run() }
            })
        }
    }

    private static func onServer(_ url: String, logger: Logger, _ body: (any SQLDatabase) async throws -> Void) async throws {
        var configuration = PortalConfiguration(dataDirectory: "/nonexistent")
        configuration.database.url = url
        configuration.database.poolSize = 1
        configuration.database.maxOverflow = 0
        let admin = try PortalDatabase.open(configuration, logger: logger)
        do {
            guard let sql = try admin.database() as? any SQLDatabase else { throw TestDatabaseError("not an SQL database") }
            try await body(sql)
        } catch {
            await admin.shutdown()
            throw error
        }
        await admin.shutdown()
    }
}

public struct TestDatabaseError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) {
        self.description = description
    }
}
