public import FluentKit
import Foundation

/// Companies: what each user may see, by role, and registration.
public struct CompanyStore: Sendable {
    private let database: any Database

    public init(database: any Database) {
        self.database = database
    }

    /// The companies `user` may see: those they are responsible for as a `colaborador`, every
    /// company for `gestor` and `admin`; by name.
    public func companies(visibleTo user: UserAccount) async throws -> [CompanySummary] {
        var query = CompanyRecord.query(on: database).sort(\.$name).sort(\.$id)
        if user.role == .colaborador { query = query.filter(\.$responsible.$id == user.id) }
        return try await query.all().compactMap(\.summary)
    }

    /// The company with `id` when `user` may see it; nil otherwise (unknown and forbidden look alike).
    public func company(id: Int, visibleTo user: UserAccount) async throws -> CompanySummary? {
        guard let record = try await CompanyRecord.find(id, on: database), let summary = record.summary else { return nil }
        return user.role == .colaborador && summary.responsibleID != user.id ? nil : summary
    }

    /// Registers a company; the CNPJ must be valid and not yet registered, the responsible user active.
    @discardableResult
    public func create(name: String, cnpj: String, responsibleID: Int) async throws -> CompanySummary {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.count <= 200 else {
            throw AccountError("the company name must have from 1 to 200 characters")
        }
        guard let digits = CNPJ.normalized(cnpj) else { throw AccountError("'\(cnpj)' is not a valid CNPJ") }
        if try await CompanyRecord.query(on: database).filter(\.$cnpj == digits).first() != nil {
            throw AccountError("a company with CNPJ \(digits) is already registered")
        }
        guard let responsible = try await User.find(responsibleID, on: database), responsible.active else {
            throw AccountError("the responsible user \(responsibleID) does not exist or is inactive")
        }
        let record = CompanyRecord(name: trimmed, cnpj: digits, responsibleID: responsibleID)
        try await record.create(on: database)
        guard let summary = record.summary else { throw AccountError("the new company has no id") }
        return summary
    }
}
