import CTLSContextTuning
import Foundation
public import NIOSSL
import SwiftASN1
import X509

/// Builds the edge's TLS server context: TLS 1.2 and 1.3 only, ECDHE key exchange with AEAD
/// ciphers only, and a certificate checked against its key before it is used.
public enum ServerTLS {
    /// ECDHE + AEAD suites for TLS 1.2 (TLS 1.3 suites are all AEAD and always on).
    public static let tls12CipherSuites: [NIOTLSCipher] = [
        .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]

    /// Loads `certificateFile` (leaf first, then intermediates) and `keyFile` and makes a context.
    public static func makeContext(certificateFile: String, keyFile: String) throws -> NIOSSLContext {
        let pem = try readText(certificateFile, what: "certificate file")
        return try makeContext(certificatePEM: pem, certificateFile: certificateFile, keyFile: keyFile)
    }

    /// Makes a context from PEM text already read (certificate file plus any chain file). With
    /// `preferServerCiphers` the server's suite order wins over the client's (nginx's
    /// `ssl_prefer_server_ciphers on`); a note goes to `warnings` when that cannot be applied.
    static func makeContext(certificatePEM: String, certificateFile: String, keyFile: String,
                            http2: Bool = false, preferServerCiphers: Bool = true) throws -> NIOSSLContext {
        var warnings: [String] = []
        return try makeContext(certificatePEM: certificatePEM, certificateFile: certificateFile, keyFile: keyFile,
                               http2: http2, preferServerCiphers: preferServerCiphers, warnings: &warnings)
    }

    static func makeContext(certificatePEM: String, certificateFile: String, keyFile: String,
                            http2: Bool, preferServerCiphers: Bool, warnings: inout [String]) throws -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8))
        } catch {
            throw TLSSetupError("cannot read certificate file \(certificateFile): \(Self.describe(error))")
        }
        guard let leaf = chain.first else {
            throw TLSSetupError("certificate file \(certificateFile) holds no PEM certificate")
        }
        let key: NIOSSLPrivateKey
        if let problem = fileProblem(keyFile) {
            throw TLSSetupError("cannot read private key file \(keyFile): \(problem)", setting: "key_file")
        }
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch NIOSSLError.failedToLoadPrivateKey {
            throw TLSSetupError("private key file \(keyFile) holds no usable PEM private key (an encrypted key needs "
                + "its passphrase removed: openssl pkey -in \(keyFile) -out key-plain.pem)", setting: "key_file")
        } catch {
            throw TLSSetupError("cannot read private key file \(keyFile): \(Self.describe(error))", setting: "key_file")
        }
        try checkKeyMatches(leaf: leaf, key: key, certificateFile: certificateFile, keyFile: keyFile)

        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.maximumTLSVersion = .tlsv13
        configuration.cipherSuiteValues = tls12CipherSuites
        configuration.applicationProtocols = http2 ? ["h2", "http/1.1"] : ["http/1.1"]
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch NIOSSLError.failedToLoadPrivateKey {
            throw TLSSetupError("private key \(keyFile) does not match certificate \(certificateFile) (or cannot be used with it)", setting: "key_file")
        } catch {
            throw TLSSetupError("cannot use certificate \(certificateFile) with key \(keyFile): \(Self.describe(error))")
        }
        if preferServerCiphers, !preferServerCipherOrder(context) {
            warnings.append("certificate \(certificateFile): the server cipher order could not be applied; clients choose the suite")
        }
        return context
    }

    /// TLS 1.3 suites in the order the server picks them when `tls_prefer_server_ciphers` is on: AES-128-GCM
    /// first (its SHA-256 transcript hash runs on the CPU's SHA extensions), then AES-256-GCM, then ChaCha20.
    public static let tls13ServerOrder = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                         "TLS_CHACHA20_POLY1305_SHA256"]

    /// Makes the server's order decide the cipher suite, for TLS 1.2 (`tls12CipherSuites`) and TLS 1.3
    /// (`tls13ServerOrder`). Must run before the context serves a connection. False when it could not.
    static func preferServerCipherOrder(_ context: NIOSSLContext) -> Bool {
        guard let handle = boringSSLContext(of: context) else { return false }
        return portal_tls_prefer_server_ciphers(UnsafeMutableRawPointer(handle)) == 1
    }

    /// BoringSSL's `SSL_CTX` behind a context. swift-nio-ssl keeps it in a stored property without
    /// public access and offers no setting for the TLS 1.3 suite order, so reflection reads the
    /// property. Nil if a later swift-nio-ssl stores it differently; callers then keep the defaults.
    static func boringSSLContext(of context: NIOSSLContext) -> OpaquePointer? {
        Mirror(reflecting: context).children.first { $0.label == "sslContext" }?.value as? OpaquePointer
    }

    /// Compares the public key in the certificate with the one derived from the private key.
    static func checkKeyMatches(leaf: NIOSSLCertificate, key: NIOSSLPrivateKey,
                                certificateFile: String, keyFile: String) throws {
        let certificate: Certificate
        let derived: Certificate.PublicKey
        do {
            certificate = try Certificate(derEncoded: try leaf.toDERBytes())
            let keyText = try String(contentsOfFile: keyFile, encoding: .utf8)
            derived = try Certificate.PrivateKey(pemEncoded: keyText).publicKey
        } catch {
            // A key type swift-certificates cannot parse is still checked by BoringSSL when the context is made.
            return
        }
        guard certificate.publicKey == derived else {
            throw TLSSetupError("private key \(keyFile) does not match certificate \(certificateFile)", setting: "key_file")
        }
    }

    /// Why `path` cannot be read as a file, in words (nil when it can).
    static func fileProblem(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            return errno == EACCES ? "a folder on its path may not be entered by this user (permission denied)"
                : "it does not exist"
        }
        if info.st_mode & S_IFMT == S_IFDIR { return "it is a folder, not a file" }
        if access(path, R_OK) != 0 { return "this user (uid \(getuid())) may not read it (permission denied)" }
        return nil
    }

    /// The text of a PEM file, or an error that says in words what is wrong with the file.
    /// `setting` names the configuration key the file came from, for the error's place.
    static func readText(_ path: String, what: String, setting: String = "certificate_file") throws -> String {
        if let problem = fileProblem(path) {
            throw TLSSetupError("cannot read \(what) \(path): \(problem)", setting: setting)
        }
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw TLSSetupError("cannot read \(what) \(path): it is not text (a PEM file is; a DER file can be "
                + "converted with openssl x509 -inform der -in \(path) -out cert.pem)", setting: setting)
        }
    }

    static func describe(_ error: any Error) -> String {
        if let sslError = error as? NIOSSLError { return "\(sslError)" }
        let nsError = error as NSError
        if nsError.domain == NSPOSIXErrorDomain || nsError.domain == NSCocoaErrorDomain {
            return nsError.localizedDescription
        }
        return "\(error)"
    }
}

/// TLS material that cannot be used; the message names the file and the reason.
public struct TLSSetupError: Error, CustomStringConvertible {
    public let description: String
    /// The configuration setting naming the file at fault (`key_file`, `chain_file`), when known.
    public let setting: String?
    public init(_ description: String, setting: String? = nil) {
        self.description = description
        self.setting = setting
    }
}
