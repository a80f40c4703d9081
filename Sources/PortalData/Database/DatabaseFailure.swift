import AsyncKit
#if MARIADB
import MariaDB
#endif
import FluentPostgresDriver
import NIOCore
import NIOPosix
import PostgresNIO

extension PortalDatabase {
    /// True when `error` says the database could not be reached or dropped the connection (a
    /// server stopping, restarting or cut off; a pool with no connection to give), as opposed
    /// to a problem with the query or the data.
    public static func isConnectionFailure(_ error: any Error) -> Bool {
        switch error {
        case let error as PSQLError:
            switch error.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed:
                return true
            case .server:
                // SQLSTATE class 08 (connection exception) and 57P0x (the server shutting down or starting).
                let state = error.serverInfo?[.sqlState] ?? ""
                return state.hasPrefix("08") || state.hasPrefix("57P")
            default:
                return false
            }
        case is ConnectionPoolTimeoutError, is ConnectionPoolError, is ChannelError, is IOError, is NIOConnectionError:
            return true
        #if MARIADB
        case let error as MariaDBError:
            return error.isConnectionFailure
        #endif
        default:
            return false
        }
    }
}
