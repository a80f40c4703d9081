import FluentKit
import Foundation

/// A client company of the office (`empresa`), with the staff member responsible for it.
///
/// `@unchecked Sendable`: used only inside the request that loaded it (see `User`).
final class CompanyRecord: Model, @unchecked Sendable {
    static let schema = "companies"

    @ID(custom: "id", generatedBy: .database) var id: Int?
    @Field(key: "name") var name: String
    @Field(key: "cnpj") var cnpj: String
    @Parent(key: "responsible_id") var responsible: User
    @Timestamp(key: "created_at", on: .create) var createdAt: Date?
    @Timestamp(key: "updated_at", on: .update) var updatedAt: Date?

    init() {}

    init(name: String, cnpj: String, responsibleID: Int) {
        self.name = name
        self.cnpj = cnpj
        self.$responsible.id = responsibleID
    }

    var summary: CompanySummary? {
        guard let id else { return nil }
        return CompanySummary(id: id, name: name, cnpj: cnpj, responsibleID: $responsible.id)
    }
}

/// A company as pages and the API show it.
public struct CompanySummary: Sendable, Equatable {
    public let id: Int
    public let name: String
    /// Fourteen digits, without punctuation.
    public let cnpj: String
    /// The user responsible for the company.
    public let responsibleID: Int

    /// The CNPJ as people write it: `12.345.678/0001-95`.
    public var formattedCNPJ: String {
        let digits = Array(cnpj)
        guard digits.count == 14 else { return cnpj }
        return String(digits[0..<2]) + "." + String(digits[2..<5]) + "." + String(digits[5..<8]) + "/"
            + String(digits[8..<12]) + "-" + String(digits[12..<14])
    }
}
