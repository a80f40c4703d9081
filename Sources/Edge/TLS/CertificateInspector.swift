import Foundation
import SwiftASN1
import X509

/// Checks a site's certificate file when it is loaded, the way an operator would with
/// `openssl x509`: dates, names, and whether the chain is complete and in order.
enum CertificateInspector {
    struct Findings {
        var errors: [String] = []
        var warnings: [String] = []
        var notAfter: Date?
        /// The chain to serve, leaf first, each certificate once.
        var certificates: [Certificate] = []

        /// `certificates` as PEM text.
        func chainPEM() throws -> String {
            try certificates.map { try $0.serializeAsPEM().pemString }.joined(separator: "\n") + "\n"
        }
    }

    /// One certificate and where it came from, for messages that name the right file.
    private struct Located {
        let certificate: Certificate
        let file: String
        /// 1-based position in its file.
        let position: Int

        var name: String { "certificate \(position) of \(file)" }
    }

    /// Inspects the certificate file and, when set, the chain file (Apache's
    /// `SSLCertificateChainFile`); an intermediate found in both is sent once.
    static func inspect(pem: String, file: String, chainPEM: String? = nil, chainFile: String? = nil,
                        hosts: [String], now: Date = Date()) -> Findings {
        var findings = Findings()
        var located: [Located] = []
        for (text, source) in [(pem, file)] + (chainPEM.map { [($0, chainFile ?? file)] } ?? []) {
            do {
                let certificates = try PEMDocument.parseMultiple(pemString: text)
                    .filter { $0.discriminator == "CERTIFICATE" }
                    .map { try Certificate(pemDocument: $0) }
                for (index, certificate) in certificates.enumerated() {
                    if located.contains(where: { $0.certificate == certificate }) {
                        findings.warnings.append("\(source) repeats a certificate already in \(file) (\(certificate.subject)); it is sent once")
                        continue
                    }
                    located.append(Located(certificate: certificate, file: source, position: index + 1))
                }
                if source != file && certificates.isEmpty {
                    findings.errors.append("chain file \(source) holds no certificate")
                }
            } catch {
                if "\(error)".contains("incorrectParameterSize") {
                    // swift-crypto refuses RSA keys below 2048 bits when it reads the certificate.
                    findings.errors.append("certificate file \(source) holds a key of an unsupported size (RSA below 2048 bits): "
                        + "issue the certificate for an RSA 2048-4096 or an ECDSA P-256 key")
                } else {
                    findings.errors.append("certificate file \(source) cannot be parsed: \(error)")
                }
                return findings
            }
        }
        findings.certificates = located.map(\.certificate)
        guard let leaf = located.first?.certificate else {
            findings.errors.append("certificate file \(file) holds no certificate")
            return findings
        }
        findings.notAfter = leaf.notValidAfter
        if leaf.notValidAfter < now {
            findings.errors.append("certificate \(file) expired on \(leaf.notValidAfter); renew it (the seed renews every 60-80 days)")
        } else if leaf.notValidBefore > now {
            findings.errors.append("certificate \(file) is not valid before \(leaf.notValidBefore); check the clock")
        } else if leaf.notValidAfter.timeIntervalSince(now) < 14 * 86_400 {
            let days = Int(leaf.notValidAfter.timeIntervalSince(now) / 86_400)
            findings.warnings.append("certificate \(file) expires in \(days) days (\(leaf.notValidAfter)); renew it soon")
        }

        // An expired intermediate breaks the chain for every client as surely as an expired leaf.
        for issuer in located.dropFirst() where issuer.certificate.issuer != issuer.certificate.subject {
            if issuer.certificate.notValidAfter < now {
                findings.errors.append("\(issuer.name) expired on \(issuer.certificate.notValidAfter); "
                    + "get the current intermediate from the certificate authority (Let's Encrypt's fullchain.pem has it)")
            } else if issuer.certificate.notValidBefore > now {
                findings.errors.append("\(issuer.name) is not valid before \(issuer.certificate.notValidBefore); check the clock")
            }
        }

        let names = (try? leaf.extensions.subjectAlternativeNames).flatMap { $0 }.map { alternatives in
            alternatives.compactMap { name -> String? in
                switch name {
                case .dnsName(let dns): return dns.lowercased()
                case .ipAddress(let address): return ipText(Array(address.bytes))
                default: return nil
                }
            }
        } ?? []
        for host in hosts where host != "*" && !covers(names, host) {
            findings.warnings.append("certificate \(file) does not cover '\(host)' (it names \(names.isEmpty ? "no DNS names or addresses" : names.joined(separator: ", "))); browsers will show a name error")
        }

        // Each certificate must be issued by the next one (the chain file's follow the certificate file's).
        for index in located.indices.dropLast() where located[index].certificate.issuer != located[index + 1].certificate.subject {
            let issued = located[index]
            let next = located[index + 1]
            let advice = next.file == issued.file
                ? "put the leaf first, then its intermediates in order"
                : "\(next.file) must start with the intermediate that issued \(issued.file)'s last certificate (\(issued.certificate.issuer))"
            findings.errors.append("\(issued.name) is not issued by \(next.name); \(advice)")
        }
        if located.count == 1 && leaf.issuer != leaf.subject {
            findings.warnings.append("certificate file \(file) holds only the leaf and no intermediate: clients that do not have the intermediate will fail (use the full chain, e.g. Let's Encrypt's fullchain.pem, or set chain_file)")
        }
        return findings
    }

    /// An IP address SAN as text (`127.0.0.1`, `::1`), as hosts are written.
    static func ipText(_ bytes: [UInt8]) -> String? {
        switch bytes.count {
        case 4:
            return bytes.map(String.init).joined(separator: ".")
        case 16:
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            return bytes.withUnsafeBytes { raw -> String? in
                guard inet_ntop(AF_INET6, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil else { return nil }
                let text = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
                return String(decoding: text, as: UTF8.self)
            }
        default:
            return nil
        }
    }

    /// True when a SAN list covers `host`, with `*.` matching one label.
    static func covers(_ names: [String], _ host: String) -> Bool {
        let host = host.lowercased()
        return names.contains { name in
            if name == host { return true }
            if host.hasPrefix("*.") { return name == host }
            guard name.hasPrefix("*.") else { return false }
            let suffix = name.dropFirst(1)
            guard host.hasSuffix(suffix) else { return false }
            return !host.dropLast(suffix.count).contains(".")
        }
    }
}
