import Foundation
import JWTKit

/// The claims of an OpenID Connect ID token that the portal reads. The signature and expiry are
/// checked by JWTKit while decoding; issuer, audience, nonce, issue time, e-mail verification
/// and hosted domain by `OpenIDClient.verify`.
struct IDTokenClaims: JWTPayload {
    enum CodingKeys: String, CodingKey {
        case issuer = "iss"
        case subject = "sub"
        case audience = "aud"
        case expires = "exp"
        case issuedAt = "iat"
        case authorizedParty = "azp"
        case nonce, email, name
        case emailVerified = "email_verified"
        case hostedDomain = "hd"
    }

    let issuer: IssuerClaim
    let subject: SubjectClaim
    let audience: AudienceClaim
    let expires: ExpirationClaim
    let issuedAt: IssuedAtClaim
    let authorizedParty: String?
    let nonce: String?
    let email: String?
    let name: String?
    let emailVerified: BoolClaim?
    let hostedDomain: String?

    /// Clock difference tolerated between the provider and this machine.
    static let leeway: TimeInterval = 60

    func verify(using _: some JWTAlgorithm) throws {
        try expires.verifyNotExpired(currentDate: Date().addingTimeInterval(-Self.leeway))
    }
}
