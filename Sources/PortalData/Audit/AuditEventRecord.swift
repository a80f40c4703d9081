import FluentKit
import Foundation

/// One row of `audit_events`. The user id is kept without a foreign key so entries outlive the
/// accounts they name.
///
/// `@unchecked Sendable`: used only inside the call that created or loaded it (see `User`).
final class AuditEventRecord: Model, @unchecked Sendable {
    static let schema = "audit_events"

    @ID(custom: "id", generatedBy: .database) var id: Int?
    @Field(key: "at") var at: Date
    @Field(key: "kind") var kind: String
    @OptionalField(key: "user_id") var userID: Int?
    @Field(key: "email") var email: String
    @Field(key: "client_ip") var clientIP: String
    @Field(key: "detail") var detail: String

    init() {}

    init(_ event: AuditEvent) {
        self.at = event.at
        self.kind = event.kind.rawValue
        self.userID = event.userID
        self.email = String(event.email.prefix(254))
        self.clientIP = String(event.clientIP.prefix(64))
        self.detail = String(event.detail.prefix(500))
    }

    var event: AuditEvent? {
        guard let id, let kind = AuditEvent.Kind(rawValue: kind) else { return nil }
        return AuditEvent(id: id, at: at, kind: kind, userID: userID, email: email, clientIP: clientIP, detail: detail)
    }
}
