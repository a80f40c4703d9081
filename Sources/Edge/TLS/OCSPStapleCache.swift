import CTLSContextTuning
import Foundation
import NIOSSL
import PortalCore

/// OCSP answers kept under `<data_dir>/tls/ocsp`, one file per certificate, so a restart or a
/// reload staples at once instead of waiting for the responder.
struct OCSPStapleCache: Sendable {
    let directory: String

    init(dataDirectory: DataDirectory) {
        directory = dataDirectory.tlsDirectory + "/ocsp"
    }

    func path(for subject: OCSPSubject) -> String {
        "\(directory)/\(subject.cacheName).der"
    }

    /// The kept answer for `subject` when it is still good at `now`.
    func load(_ subject: OCSPSubject, now: Date) -> (der: [UInt8], freshness: OCSPFreshness)? {
        guard let data = FileManager.default.contents(atPath: path(for: subject)) else { return nil }
        let der = [UInt8](data)
        guard let freshness = try? subject.check(responseDER: der, now: now) else { return nil }
        return (der, freshness)
    }

    /// Deletes the kept answer for `subject`; true when there was one.
    func remove(_ subject: OCSPSubject) -> Bool {
        (try? FileManager.default.removeItem(atPath: path(for: subject))) != nil
    }

    /// Keeps `der` for `subject`, replacing the file atomically.
    func store(_ der: [UInt8], for subject: OCSPSubject) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(der).write(to: URL(fileURLWithPath: path(for: subject)), options: .atomic)
    }
}

/// How a runtime staples: the switch, the cache, and the answer file of the site being loaded.
struct OCSPStaplingOptions {
    var enabled: Bool
    var cache: OCSPStapleCache
    var responseFile: String?
}

extension ServerTLS {
    /// Attaches `der` to every handshake on `context`. Must run before the context serves a connection.
    static func staple(_ der: [UInt8], on context: NIOSSLContext) -> Bool {
        guard let handle = boringSSLContext(of: context) else { return false }
        return der.withUnsafeBufferPointer { bytes in
            portal_tls_set_ocsp_response(UnsafeMutableRawPointer(handle), bytes.baseAddress, bytes.count) == 1
        }
    }
}
