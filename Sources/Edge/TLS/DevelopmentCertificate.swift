public import Foundation
import Crypto
import PortalCore
import SwiftASN1
import X509

/// The self-signed certificate `portal up` makes for a fresh install, so HTTPS works from the
/// first start: ECDSA P-256, SANs `localhost`, `127.0.0.1` and `::1`, 90 days, renewed when
/// fewer than 30 days are left.
public struct DevelopmentCertificate: Sendable {
    /// Path of the PEM certificate.
    public let certificateFile: String
    /// Path of the PEM private key (mode 0600).
    public let keyFile: String

    public static let lifetimeDays = 90
    public static let renewBeforeDays = 30

    public init(directory: String) {
        self.certificateFile = (directory as NSString).appendingPathComponent("dev-cert.pem")
        self.keyFile = (directory as NSString).appendingPathComponent("dev-key.pem")
    }

    /// What `ensure` did.
    public enum Outcome: Sendable, Equatable {
        case kept(expires: Date)
        case created(expires: Date)
        case renewed(expires: Date)
    }

    /// Creates the certificate when missing, unreadable or expiring within `renewBeforeDays`.
    public func ensure(now: Date = Date()) throws -> Outcome {
        let fileManager = FileManager.default
        let existed = fileManager.fileExists(atPath: certificateFile)
        if existed, fileManager.fileExists(atPath: keyFile),
           let text = try? String(contentsOfFile: certificateFile, encoding: .utf8),
           let certificate = try? Certificate(pemEncoded: text) {
            let remaining = certificate.notValidAfter.timeIntervalSince(now)
            if remaining > Double(Self.renewBeforeDays) * 86_400 {
                return .kept(expires: certificate.notValidAfter)
            }
        }
        let expires = try generate(now: now)
        return existed ? .renewed(expires: expires) : .created(expires: expires)
    }

    /// Writes a new key and certificate, each first to a temporary file then renamed into place.
    @discardableResult
    public func generate(now: Date = Date()) throws -> Date {
        let key = P256.Signing.PrivateKey()
        let privateKey = Certificate.PrivateKey(key)
        let name = try DistinguishedName {
            OrganizationName("Portal development certificate")
            CommonName("localhost")
        }
        let notAfter = now.addingTimeInterval(Double(Self.lifetimeDays) * 86_400)
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            // keyCertSign: the certificate signs itself, and BoringSSL (Chromium, NIOSSL) checks the
            // issuer's key usage even for a self-signed trust anchor.
            Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
            try ExtendedKeyUsage([.serverAuth])
            SubjectAlternativeNames([
                .dnsName("localhost"),
                .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1]))),
            ])
            SubjectKeyIdentifier(hash: privateKey.publicKey)
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: privateKey.publicKey,
            notValidBefore: now.addingTimeInterval(-300),
            notValidAfter: notAfter,
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: privateKey
        )
        try SecureFile.write(key.pemRepresentation + "\n", to: keyFile, mode: 0o600)
        try SecureFile.write(try certificate.serializeAsPEM().pemString + "\n", to: certificateFile, mode: 0o644)
        return notAfter
    }
}
