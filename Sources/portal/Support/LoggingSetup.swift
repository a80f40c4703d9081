import Foundation
import Edge
import Logging
import PortalCore

/// Sets up swift-log once per process: key=value metadata on standard error.
enum LoggingSetup {
    /// Standard error at `level`; with `errorLog`, warnings and errors also go to that file.
    static func bootstrap(level: String, errorLog: ErrorLogFile? = nil) {
        let logLevel = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            guard let errorLog else { return handler }
            return MultiplexLogHandler([handler, ErrorLogHandler(label: label, file: errorLog)])
        }
    }
}
