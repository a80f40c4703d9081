import Foundation
import Hummingbird
import HummingbirdTesting
import PortalApp
import PortalData
import PortalTestSupport
import Testing

@Suite("Who sees which tasks", .serialized)
struct TaskVisibilityTests {
    @Test("a colaborador sees only their tasks; a gestor and an admin see every task with its assignee", arguments: TestDatabaseEngine.available)
    func byRole(engine: TestDatabaseEngine) async throws {
        let fixture = try await AppFixture.make(engine: engine)
        let accounts = AccountStore(database: try fixture.database.database())
        _ = try await accounts.createUser(email: "gil@escritorio.com.br", name: "Gil Gestor", password: "senha-do-gestor-longa", role: .gestor)
        _ = try await accounts.createUser(email: "adm@escritorio.com.br", name: "Adm", password: "senha-da-admin-longa", role: .admin)
        try await PortalApplication.application(services: fixture.services).test(.router) { client in
            let ana = try await SessionPageTests.signIn(client, email: "ana@escritorio.com.br", password: AppFixture.anaPassword, browser: "a")
            let own = String(buffer: try await SessionPageTests.get(client, "/tasks", cookie: ana).body)
            #expect(own.contains("Minhas tarefas"))
            #expect(own.contains("Revisar relatório"))
            #expect(!own.contains("Tarefa do Bruno"))
            #expect(!own.contains("Responsável"))
            #expect(!own.contains("/admin/audit"))

            for (email, password) in [("gil@escritorio.com.br", "senha-do-gestor-longa"), ("adm@escritorio.com.br", "senha-da-admin-longa")] {
                let cookie = try await SessionPageTests.signIn(client, email: email, password: password, browser: "g")
                let all = String(buffer: try await SessionPageTests.get(client, "/tasks", cookie: cookie).body)
                #expect(all.contains("Tarefas do escritório"))
                #expect(all.contains("Revisar relatório") && all.contains("Tarefa do Bruno"))
                #expect(all.contains("<td>Bruno</td>") && all.contains("<td>Ana &lt;Contadora&gt;</td>"))
                #expect(all.contains("href=\"/admin/audit\"") == (email == "adm@escritorio.com.br"))
            }
        }
        let store = TaskStore(database: try fixture.database.database())
        #expect(try await store.tasks(visibleTo: fixture.ana).allSatisfy { $0.assigneeID == fixture.ana.id })
        await fixture.tearDown()
    }
}
