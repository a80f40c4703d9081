import Crypto
import Foundation
import SwiftASN1
import X509

/// One served certificate as OCSP sees it (RFC 6960): the responder its issuer names, the
/// request that asks for its status, and the checks an answer must pass before it is stapled.
struct OCSPSubject: Sendable, Hashable {
    /// `http://` URL of the responder, from the leaf's Authority Information Access; nil when it names none.
    let responderURL: String?
    /// The leaf's serial number, as the INTEGER's content bytes.
    let serial: [UInt8]
    /// DER of the issuer's name and the issuer's public key bits, hashed as a response asks.
    let issuerName: [UInt8]
    let issuerKey: [UInt8]
    /// File name of the cached answer: the SHA-256 of the leaf, in hex.
    let cacheName: String

    /// Reads the chain (leaf first, its issuer next). Nil when the leaf names no OCSP responder and
    /// `evenWithoutResponder` is false (no answer file is configured); throws when the status cannot
    /// be asked or checked (no issuer in the chain, a responder that is not `http://`).
    init?(chainPEM: String, certificateFile: String, evenWithoutResponder: Bool) throws {
        let chain: [Certificate]
        do {
            chain = try PEMDocument.parseMultiple(pemString: chainPEM).map { try Certificate(pemDocument: $0) }
        } catch {
            throw OCSPError("certificate file \(certificateFile): cannot read it for OCSP: \(error)")
        }
        guard let leaf = chain.first else { return nil }
        let responders = (try? leaf.extensions.authorityInformationAccess)?.compactMap { description -> String? in
            guard description.method == .ocspServer,
                  case .uniformResourceIdentifier(let url) = description.location else { return nil }
            return url
        } ?? []
        let url = responders.first
        if url == nil, !evenWithoutResponder { return nil }
        if let url, !url.lowercased().hasPrefix("http://") {
            throw OCSPError("certificate file \(certificateFile): OCSP responder \(url) is not an http:// URL")
        }
        guard let issuer = chain.dropFirst().first(where: { $0.subject == leaf.issuer }) else {
            throw OCSPError("certificate file \(certificateFile): the chain lacks the issuer of the certificate, "
                + "so its OCSP status cannot be asked (use the full chain, or set chain_file)")
        }
        var name = DER.Serializer()
        try name.serialize(issuer.subject)
        responderURL = url
        serial = Array(leaf.serialNumber.bytes)
        issuerName = name.serializedBytes
        issuerKey = Array(issuer.publicKey.subjectPublicKeyInfoBytes)
        var leafDER = DER.Serializer()
        try leafDER.serialize(leaf)
        cacheName = SHA256.hash(data: leafDER.serializedBytes).map { String(format: "%02x", $0) }.joined()
    }

    /// `OCSPRequest` for this certificate alone, with SHA-1 hashes as responders expect (RFC 5019).
    func requestDER() throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.appendConstructedNode(identifier: .sequence) { request in       // OCSPRequest
            try request.appendConstructedNode(identifier: .sequence) { tbs in          // TBSRequest
                try tbs.appendConstructedNode(identifier: .sequence) { list in         // requestList
                    try list.appendConstructedNode(identifier: .sequence) { single in  // Request
                        try serializeCertID(into: &single, hash: .sha1)
                    }
                }
            }
        }
        return serializer.serializedBytes
    }

    private func serializeCertID(into serializer: inout DER.Serializer, hash: HashKind) throws {
        try serializer.appendConstructedNode(identifier: .sequence) { certID in
            try certID.appendConstructedNode(identifier: .sequence) { algorithm in
                try algorithm.serialize(hash.identifier)
                try algorithm.serialize(ASN1Null())
            }
            try certID.serialize(ASN1OctetString(contentBytes: hash.digest(issuerName)[...]))
            try certID.serialize(ASN1OctetString(contentBytes: hash.digest(issuerKey)[...]))
            certID.appendPrimitiveNode(identifier: .integer) { $0.append(contentsOf: serial) }
        }
    }

    /// Checks a DER `OCSPResponse`: successful, about this certificate, status good, current at
    /// `now`. Returns when to ask again. The signature is left to clients, which check it anyway.
    func check(responseDER: [UInt8], now: Date) throws -> OCSPFreshness {
        let top = try OCSPNodes(DER.parse(responseDER), "OCSPResponse")
        let status = try top.primitive(0, tag: .enumerated)
        guard status == [0] else {
            throw OCSPError("the responder answered with status \(status.first.map(String.init) ?? "?") (not successful)")
        }
        let responseBytes = try OCSPNodes(try top.node(1), "responseBytes").only()
        let typed = try OCSPNodes(responseBytes, "ResponseBytes")
        let basicType: ASN1ObjectIdentifier = [1, 3, 6, 1, 5, 5, 7, 48, 1, 1]
        guard try ASN1ObjectIdentifier(derEncoded: try typed.node(0)) == basicType else {
            throw OCSPError("the response is not a basic OCSP response")
        }
        let basic = try OCSPNodes(DER.parse(try typed.primitive(1, tag: .octetString)), "BasicOCSPResponse")
        let data = try OCSPNodes(try basic.node(0), "ResponseData")
        // `version` is optional ([0]), so `responses` is the first SEQUENCE after `producedAt`.
        guard let producedAt = data.children.firstIndex(where: { $0.identifier == .generalizedTime }),
              producedAt + 1 < data.children.count else {
            throw OCSPError("the response data is malformed")
        }
        for single in try OCSPNodes(data.children[producedAt + 1], "responses").children {
            let response = try OCSPNodes(single, "SingleResponse")
            guard try matches(certID: OCSPNodes(try response.node(0), "CertID")) else { continue }
            let state = try response.node(1).identifier
            guard state.tagClass == .contextSpecific else { throw OCSPError("the certificate status is malformed") }
            switch state.tagNumber {
            case 0: break
            case 1: throw OCSPError("the responder reports the certificate as REVOKED")
            default: throw OCSPError("the responder does not know the certificate (status unknown)")
            }
            let thisUpdate = try OCSPNodes.date(try response.node(2))
            var nextUpdate: Date?
            if response.children.count > 3, response.children[3].identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific) {
                nextUpdate = try OCSPNodes.date(try OCSPNodes(response.children[3], "nextUpdate").only())
            }
            return try OCSPFreshness(thisUpdate: thisUpdate, nextUpdate: nextUpdate, now: now)
        }
        throw OCSPError("the response does not cover this certificate")
    }

    private func matches(certID: OCSPNodes) throws -> Bool {
        let algorithm = try ASN1ObjectIdentifier(derEncoded: try OCSPNodes(try certID.node(0), "hashAlgorithm").node(0))
        guard let hash = HashKind(algorithm) else { return false }
        return try certID.primitive(1, tag: .octetString) == hash.digest(issuerName)
            && certID.primitive(2, tag: .octetString) == hash.digest(issuerKey)
            && certID.primitive(3, tag: .integer) == serial
    }

    private enum HashKind {
        case sha1, sha256

        init?(_ identifier: ASN1ObjectIdentifier) {
            switch identifier {
            case HashKind.sha1.identifier: self = .sha1
            case HashKind.sha256.identifier: self = .sha256
            default: return nil
            }
        }

        var identifier: ASN1ObjectIdentifier {
            switch self {
            case .sha1: [1, 3, 14, 3, 2, 26]
            case .sha256: [2, 16, 840, 1, 101, 3, 4, 2, 1]
            }
        }

        func digest(_ bytes: [UInt8]) -> [UInt8] {
            switch self {
            case .sha1: Array(Insecure.SHA1.hash(data: bytes))
            case .sha256: Array(SHA256.hash(data: bytes))
            }
        }
    }
}

/// How long a good OCSP answer may be stapled, and when to fetch the next one.
struct OCSPFreshness: Sendable, Equatable {
    let thisUpdate: Date
    let nextUpdate: Date?
    /// Halfway through the answer's validity (an hour after `thisUpdate` without a `nextUpdate`).
    let refreshAt: Date

    init(thisUpdate: Date, nextUpdate: Date?, now: Date) throws {
        // Five minutes of clock skew between the responder and us are tolerated.
        guard thisUpdate <= now.addingTimeInterval(300) else {
            throw OCSPError("the response is dated in the future (\(thisUpdate))")
        }
        if let nextUpdate, nextUpdate <= now {
            throw OCSPError("the response expired at \(nextUpdate)")
        }
        self.thisUpdate = thisUpdate
        self.nextUpdate = nextUpdate
        if let nextUpdate {
            refreshAt = thisUpdate.addingTimeInterval(nextUpdate.timeIntervalSince(thisUpdate) / 2)
        } else {
            refreshAt = max(thisUpdate, now.addingTimeInterval(-3_600)).addingTimeInterval(3_600)
        }
    }
}

/// An OCSP answer that cannot be used, or a certificate whose status cannot be asked.
struct OCSPError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The children of one constructed DER node, read by position with errors that name the node.
private struct OCSPNodes {
    let name: String
    let children: [ASN1Node]

    init(_ node: ASN1Node, _ name: String) throws {
        guard case .constructed(let nodes) = node.content else {
            throw OCSPError("the response is malformed (\(name) is not constructed)")
        }
        self.name = name
        children = Array(nodes)
    }

    func node(_ index: Int) throws -> ASN1Node {
        guard index < children.count else { throw OCSPError("the response is malformed (\(name) is too short)") }
        return children[index]
    }

    func only() throws -> ASN1Node {
        guard children.count == 1 else { throw OCSPError("the response is malformed (\(name))") }
        return children[0]
    }

    func primitive(_ index: Int, tag: ASN1Identifier) throws -> [UInt8] {
        let child = try node(index)
        guard child.identifier == tag, case .primitive(let bytes) = child.content else {
            throw OCSPError("the response is malformed (field \(index) of \(name))")
        }
        return Array(bytes)
    }

    static func date(_ node: ASN1Node) throws -> Date {
        let time = try GeneralizedTime(derEncoded: node)
        var components = DateComponents()
        components.timeZone = TimeZone(identifier: "UTC")
        components.year = time.year
        components.month = time.month
        components.day = time.day
        components.hour = time.hours
        components.minute = time.minutes
        components.second = time.seconds
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        guard let date = calendar.date(from: components) else { throw OCSPError("the response holds an invalid date") }
        return date
    }
}
