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
    }

    static func inspect(pem: String, file: String, hosts: [String], now: Date = Date()) -> Findings {
        var findings = Findings()
        let certificates: [Certificate]
        do {
            certificates = try PEMDocument.parseMultiple(pemString: pem)
                .filter { $0.discriminator == "CERTIFICATE" }
                .map { try Certificate(pemDocument: $0) }
        } catch {
            findings.errors.append("certificate file \(file) cannot be parsed: \(error)")
            return findings
        }
        guard let leaf = certificates.first else {
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

        let names = (try? leaf.extensions.subjectAlternativeNames).flatMap { $0 }.map { alternatives in
            alternatives.compactMap { name -> String? in
                if case .dnsName(let dns) = name { return dns.lowercased() }
                return nil
            }
        } ?? []
        for host in hosts where host != "*" && !covers(names, host) {
            findings.warnings.append("certificate \(file) does not cover '\(host)' (it names \(names.isEmpty ? "no DNS names" : names.joined(separator: ", "))); browsers will show a name error")
        }

        // Each certificate must be issued by the next one in the file.
        for index in certificates.indices.dropLast() where certificates[index].issuer != certificates[index + 1].subject {
            findings.errors.append("certificate file \(file): certificate \(index + 1) is not issued by certificate \(index + 2); put the leaf first, then its intermediates in order")
        }
        if certificates.count == 1 && leaf.issuer != leaf.subject {
            findings.warnings.append("certificate file \(file) holds only the leaf and no intermediate: clients that do not have the intermediate will fail (use the full chain, e.g. Let's Encrypt's fullchain.pem, or set chain_file)")
        }
        return findings
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
