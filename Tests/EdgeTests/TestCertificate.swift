import Crypto
import Foundation
import SwiftASN1
import X509

/// Self-signed certificates for arbitrary names, written to PEM files, for SNI tests.
enum TestCertificate {
    static func make(names: [String], directory: String, file: String) throws -> (certificate: String, key: String) {
        let key = P256.Signing.PrivateKey()
        let privateKey = Certificate.PrivateKey(key)
        let subject = try DistinguishedName { CommonName(names[0]) }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: privateKey.publicKey,
            notValidBefore: Date().addingTimeInterval(-60), notValidAfter: Date().addingTimeInterval(86_400),
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names.map { .dnsName($0) })
            },
            issuerPrivateKey: privateKey)
        let certificatePath = (directory as NSString).appendingPathComponent("\(file)-cert.pem")
        let keyPath = (directory as NSString).appendingPathComponent("\(file)-key.pem")
        try (try certificate.serializeAsPEM().pemString + "\n").write(toFile: certificatePath, atomically: true, encoding: .utf8)
        try (key.pemRepresentation + "\n").write(toFile: keyPath, atomically: true, encoding: .utf8)
        return (certificatePath, keyPath)
    }

    /// A root, an intermediate it signed, and a leaf the intermediate signed, as PEM text.
    static func chain(leafNames: [GeneralName]) throws -> (root: String, intermediate: String, leaf: String) {
        func issue(_ subject: String, by issuer: (name: DistinguishedName, key: Certificate.PrivateKey)?,
                   authority: Bool, names: [GeneralName]) throws -> (Certificate, DistinguishedName, Certificate.PrivateKey) {
            let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
            let name = try DistinguishedName { CommonName(subject) }
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key.publicKey,
                notValidBefore: Date().addingTimeInterval(-60), notValidAfter: Date().addingTimeInterval(86_400 * 30),
                issuer: issuer?.name ?? name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(authority ? BasicConstraints.isCertificateAuthority(maxPathLength: nil) : BasicConstraints.notCertificateAuthority)
                    if !names.isEmpty { SubjectAlternativeNames(names) }
                },
                issuerPrivateKey: issuer?.key ?? key)
            return (certificate, name, key)
        }
        let root = try issue("Test Root", by: nil, authority: true, names: [])
        let intermediate = try issue("Test Intermediate", by: (root.1, root.2), authority: true, names: [])
        let leaf = try issue("leaf", by: (intermediate.1, intermediate.2), authority: false, names: leafNames)
        return (try root.0.serializeAsPEM().pemString, try intermediate.0.serializeAsPEM().pemString,
                try leaf.0.serializeAsPEM().pemString)
    }
}
