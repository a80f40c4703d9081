import Foundation
import NIOCore
import NIOPosix

/// Errors as the error log shows them: the system's words for a failed socket call ("Connection
/// refused") instead of the nested descriptions NIO's error types print.
enum ErrorText {
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as IOError:
            return "\(String(cString: strerror(error.errnoCode))) (errno \(error.errnoCode))"
        case let error as NIOConnectionError:
            if let dnsError = error.dnsAError ?? error.dnsAAAAError {
                return "cannot resolve \(error.host): \(describe(dnsError))"
            }
            let reasons = error.connectionErrors.map { describe($0.error) }
            guard let first = reasons.first else { return "no address to connect to for \(error.host)" }
            if reasons.allSatisfy({ $0 == first }) { return first }
            return error.connectionErrors.map { "\($0.target.ipAddress ?? "\($0.target)"): \(describe($0.error))" }
                .joined(separator: "; ")
        case let error as ChannelError:
            if case .connectTimeout(let timeout) = error {
                return "no connection within \(timeout.nanoseconds / 1_000_000) ms"
            }
            return "\(error)"
        default:
            return "\(error)"
        }
    }
}
