import Foundation
import Logging
import PortalCore

/// Sets up swift-log once per process: key=value metadata on standard error.
enum LoggingSetup {
    static func bootstrap(level: String) {
        let logLevel = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
    }
}
