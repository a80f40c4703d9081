public import Foundation

/// Where the data lives, from `database.url`: an SQLite file, or a PostgreSQL or MariaDB/MySQL
/// server.
public enum DatabaseURL: Sendable, Equatable {
    /// `sqlite:///absolute/path.sqlite` or `sqlite://relative/path.sqlite`.
    case sqlite(path: String)
    /// `postgres://` or `postgresql://user:password@host:port/database?tlsmode=…`.
    case postgres(URL)
    /// `mysql://` or `mariadb://user:password@host:port/database`.
    case mysql(URL)

    public init?(_ text: String) {
        let lowered = text.lowercased()
        if lowered.hasPrefix("sqlite://") {
            let path = String(text.dropFirst("sqlite://".count))
            guard !path.isEmpty else { return nil }
            self = .sqlite(path: path)
            return
        }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty,
              url.user?.isEmpty == false, url.path.count > 1
        else { return nil }
        switch scheme {
        case "postgres", "postgresql": self = .postgres(url)
        case "mysql", "mariadb": self = .mysql(url)
        default: return nil
        }
    }

    /// The engine's name for messages: `SQLite`, `PostgreSQL`, `MariaDB/MySQL`.
    public var engine: String {
        switch self {
        case .sqlite: "SQLite"
        case .postgres: "PostgreSQL"
        case .mysql: "MariaDB/MySQL"
        }
    }

    /// The URL without its password, safe for logs and messages.
    public var redacted: String {
        switch self {
        case .sqlite(let path): return "sqlite://" + path
        case .postgres(let url), .mysql(let url):
            guard var components = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return engine }
            if components.password != nil { components.password = "***" }
            return components.string ?? engine
        }
    }
}
