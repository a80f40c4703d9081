public import FluentKit
import Foundation

/// Fictional data for trying the portal and for measuring it (`portal db demo`): staff in the
/// three roles, client companies with valid CNPJs, tasks spread over the staff, audit events.
/// Only into a new portal: it refuses a database that already has companies or more than one user.
public struct DemoData: Sendable {
    public struct Summary: Sendable {
        public let users: Int
        public let companies: Int
        public let tasks: Int
        public let auditEvents: Int
        /// The password every demo user signs in with.
        public let password: String
    }

    private let database: any Database

    public init(database: any Database) {
        self.database = database
    }

    static let firstNames = ["Ana", "Bruno", "Carla", "Diego", "Eduarda", "Felipe", "Gabriela", "Henrique", "Isabela", "João",
                             "Larissa", "Marcos", "Natália", "Otávio", "Paula", "Rafael", "Sofia", "Tiago"]
    static let lastNames = ["Almeida", "Barbosa", "Cardoso", "Dias", "Ferreira", "Gomes", "Lima", "Martins", "Oliveira", "Souza"]
    static let trades = ["Padaria", "Oficina", "Mercado", "Farmácia", "Papelaria", "Transportes", "Construtora", "Clínica",
                         "Restaurante", "Comércio de Roupas", "Auto Peças", "Pet Shop"]
    static let chores = ["Apurar ICMS", "Enviar DCTFWeb", "Conferir folha de pagamento", "Fechar balancete", "Emitir guias do Simples",
                         "Conciliar extratos", "Entregar ECD", "Atualizar cadastro no eSocial", "Revisar notas de entrada",
                         "Calcular pró-labore", "Declarar DIRF", "Renovar certificado digital"]

    /// Adds `staff` users (two of them managers), `companies` companies and `tasks` tasks.
    public func seed(staff: Int, companies: Int, tasks: Int) async throws -> Summary {
        let users = try await User.query(on: database).count()
        let existing = try await CompanyRecord.query(on: database).count()
        guard users <= 1, existing == 0 else {
            throw AccountError("the database already holds data (\(users) users, \(existing) companies); demo data goes only into a new portal")
        }
        let password = PasswordGenerator.make()
        let hash = try await PasswordHasher.hash(password)
        var ids: [Int] = []
        var emails: [String] = []
        for index in 0..<staff {
            let first = Self.firstNames[index % Self.firstNames.count]
            let last = Self.lastNames[(index / Self.firstNames.count + index) % Self.lastNames.count]
            let email = "\(first.folding(options: .diacriticInsensitive, locale: nil).lowercased()).\(last.lowercased())\(index)@demo.portal.local"
            let user = User(email: email, name: "\(first) \(last)", passwordHash: hash, role: index < 2 ? .gestor : .colaborador)
            try await user.create(on: database)
            if let id = user.id {
                ids.append(id)
                emails.append(email)
            }
        }
        guard !ids.isEmpty else { throw AccountError("no demo user was created") }
        let now = Date()
        let staffIDs = ids, staffEmails = emails
        try await database.transaction { database in
            var generator = SystemRandomNumberGenerator()
            let ids = staffIDs, emails = staffEmails
            for index in 0..<companies {
                let trade = Self.trades[index % Self.trades.count]
                let owner = Self.lastNames[index % Self.lastNames.count]
                let company = CompanyRecord(name: "\(trade) \(owner) \(index + 1) Ltda", cnpj: CNPJ.random(using: &generator),
                                            responsibleID: ids[index % ids.count])
                try await company.create(on: database)
            }
            for index in 0..<tasks {
                let status = TaskStatus.allCases[Int.random(in: 0..<3, using: &generator)]
                let due = now.addingTimeInterval(Double(Int.random(in: -30...60, using: &generator)) * 86_400)
                let task = TaskItem(title: "\(Self.chores[index % Self.chores.count]) — cliente \(index % max(companies, 1) + 1)",
                                    details: "Competência \(index % 12 + 1)/2026.", status: status, dueDate: due,
                                    assigneeID: ids[index % ids.count])
                try await task.create(on: database)
            }
            for index in 0..<(tasks / 2) {
                try await AuditEventRecord(AuditEvent(at: now.addingTimeInterval(-Double(index) * 60), kind: .loginSucceeded,
                                                      userID: ids[index % ids.count], email: emails[index % ids.count],
                                                      clientIP: "192.0.2.\(index % 250 + 1)")).create(on: database)
            }
        }
        return Summary(users: ids.count, companies: companies, tasks: tasks, auditEvents: tasks / 2, password: password)
    }
}
