import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PortalApp
import PortalData
import PortalTestSupport
import Testing

/// Every route that takes an object id, called by a `colaborador` with another user's id: the
/// answer is 404 (as for an id that does not exist) and nothing changes. Managers reach all.
@Suite("Object routes by id: another user's objects stay out of reach", .serialized)
struct ObjectAccessTests {
    struct World {
        let fixture: AppFixture
        let anaTask: TaskSummary
        let brunoTask: TaskSummary
        let anaCompany: CompanySummary
        let brunoCompany: CompanySummary
        let gestor: UserAccount
    }

    static func world(_ engine: TestDatabaseEngine) async throws -> World {
        let fixture = try await AppFixture.make(engine: engine)
        do {
            return try await populate(fixture)
        } catch {
            await fixture.tearDown()
            throw error
        }
    }

    private static func populate(_ fixture: AppFixture) async throws -> World {
        let database = try fixture.services.database.database()
        let tasks = TaskStore(database: database)
        let anaTask = try #require(try await tasks.tasks(assignedTo: fixture.ana.id).first)
        let brunoTask = try #require(try await tasks.tasks(assignedTo: fixture.bruno.id).first)
        let companies = CompanyStore(database: database)
        let anaCompany = try await companies.create(name: "Padaria Pão <Quente> Ltda", cnpj: "11.222.333/0001-81", responsibleID: fixture.ana.id)
        let brunoCompany = try await companies.create(name: "Oficina do Bruno ME", cnpj: "11444777000161", responsibleID: fixture.bruno.id)
        let gestor = try await AccountStore(database: database).createUser(
            email: "gestora@escritorio.com.br", name: "Gestora", password: "planilhas-e-balancetes", role: .gestor)
        return World(fixture: fixture, anaTask: anaTask, brunoTask: brunoTask, anaCompany: anaCompany,
                     brunoCompany: brunoCompany, gestor: gestor)
    }

    @Test("pages: task and company by id, and status change, with another user's id", arguments: TestDatabaseEngine.available)
    func pages(engine: TestDatabaseEngine) async throws {
        let world = try await Self.world(engine)
        let fixture = world.fixture
        try await PortalApplication.application(services: fixture.services).test(.router) { client in
            let ana = try await SessionPageTests.signIn(client, email: "ana@escritorio.com.br", password: AppFixture.anaPassword, browser: "t")
            let own = try await SessionPageTests.get(client, "/tasks/\(world.anaTask.id)", cookie: ana)
            #expect(own.status == .ok)
            let csrf = try #require(AppRoutesTests.csrfToken(in: String(buffer: own.body)))

            for uri in ["/tasks/\(world.brunoTask.id)", "/tasks/999999", "/tasks/abc", "/companies/\(world.brunoCompany.id)", "/companies/999999"] {
                let response = try await SessionPageTests.get(client, uri, cookie: ana)
                #expect(response.status == .notFound, "\(uri)")
                let html = String(buffer: response.body)
                #expect(!html.contains("Tarefa do Bruno") && !html.contains("Oficina do Bruno"), "\(uri)")
            }
            let foreign = try await SessionPageTests.post(client, "/tasks/\(world.brunoTask.id)/status", cookie: ana, token: csrf,
                                                          fields: "&status=concluida")
            #expect(foreign.status == .notFound)
            let mine = try await SessionPageTests.post(client, "/tasks/\(world.anaTask.id)/status", cookie: ana, token: csrf,
                                                       fields: "&status=concluida")
            #expect(mine.status == .seeOther)
            let badStatus = try await SessionPageTests.post(client, "/tasks/\(world.anaTask.id)/status", cookie: ana, token: csrf,
                                                            fields: "&status=apagada")
            #expect(badStatus.status == .badRequest)

            let companies = String(buffer: try await SessionPageTests.get(client, "/companies", cookie: ana).body)
            #expect(companies.contains("Padaria Pão &lt;Quente&gt; Ltda"))
            #expect(companies.contains("11.222.333/0001-81"))
            #expect(!companies.contains("Oficina do Bruno"))
            #expect(!companies.contains("Cadastrar empresa"))
            let ownCompany = try await SessionPageTests.get(client, "/companies/\(world.anaCompany.id)", cookie: ana)
            #expect(ownCompany.status == .ok)
            let register = try await SessionPageTests.post(client, "/companies", cookie: ana, token: csrf,
                                                           fields: "&name=Nova&cnpj=45997418000153&responsible=\(fixture.ana.id)")
            #expect(register.status == .forbidden)

            // The manager reaches Bruno's objects and can register a company.
            let gestor = try await SessionPageTests.signIn(client, email: "gestora@escritorio.com.br", password: "planilhas-e-balancetes", browser: "t")
            #expect(try await SessionPageTests.get(client, "/tasks/\(world.brunoTask.id)", cookie: gestor).status == .ok)
            let all = try await SessionPageTests.get(client, "/companies", cookie: gestor)
            #expect(String(buffer: all.body).contains("Oficina do Bruno"))
            let gestorCSRF = try #require(AppRoutesTests.csrfToken(in: String(buffer: all.body)))
            let invalid = try await SessionPageTests.post(client, "/companies", cookie: gestor, token: gestorCSRF,
                                                          fields: "&name=Nova&cnpj=45997418000154&responsible=\(fixture.ana.id)")
            #expect(invalid.status == .badRequest)
            #expect(String(buffer: invalid.body).contains("CNPJ inválido"))
            let created = try await SessionPageTests.post(client, "/companies", cookie: gestor, token: gestorCSRF,
                                                          fields: "&name=Nova&cnpj=45.997.418%2F0001-53&responsible=\(fixture.ana.id)")
            #expect(created.status == .seeOther)
            let duplicate = try await SessionPageTests.post(client, "/companies", cookie: gestor, token: gestorCSRF,
                                                            fields: "&name=Outra&cnpj=45997418000153&responsible=\(fixture.ana.id)")
            #expect(String(buffer: duplicate.body).contains("Já existe"))
        }
        let database = try fixture.services.database.database()
        let brunoTask = try await TaskStore(database: database).tasks(assignedTo: fixture.bruno.id).first
        #expect(brunoTask?.status == .pending)
        #expect(try await TaskStore(database: database).tasks(assignedTo: fixture.ana.id).first?.status == .done)
        await fixture.tearDown()
    }

    @Test("API: task and company by id, and task changes, with another user's id", arguments: TestDatabaseEngine.available)
    func api(engine: TestDatabaseEngine) async throws {
        let world = try await Self.world(engine)
        let fixture = world.fixture
        let tokens = APITokenStore(database: try fixture.services.database.database())
        let ana = try await tokens.create(userID: fixture.ana.id, name: "ana", scope: .readWrite, days: 30).token
        let gestor = try await tokens.create(userID: world.gestor.id, name: "gestora", scope: .readWrite, days: 30).token
        try await PortalApplication.application(services: fixture.services).test(.router) { client in
            for uri in ["/api/v1/tasks/\(world.brunoTask.id)", "/api/v1/companies/\(world.brunoCompany.id)", "/api/v1/tasks/999999"] {
                let response = try await client.execute(uri: uri, method: .get, headers: APITokenTests.bearer(ana))
                #expect(response.status == .notFound, "\(uri)")
                #expect(!String(buffer: response.body).contains("Bruno"), "\(uri)")
            }
            let patch = try await client.execute(uri: "/api/v1/tasks/\(world.brunoTask.id)", method: .patch,
                                                 headers: APITokenTests.bearer(ana), body: ByteBuffer(string: #"{"status":"concluida"}"#))
            #expect(patch.status == .notFound)

            let tasks = try #require(try APITokenTests.json(try await client.execute(uri: "/api/v1/tasks", method: .get,
                                                                                     headers: APITokenTests.bearer(ana)))["tasks"] as? [[String: Any]])
            #expect(tasks.map { $0["id"] as? Int } == [world.anaTask.id])
            let companies = try #require(try APITokenTests.json(try await client.execute(uri: "/api/v1/companies", method: .get,
                                                                                         headers: APITokenTests.bearer(ana)))["companies"] as? [[String: Any]])
            #expect(companies.map { $0["id"] as? Int } == [world.anaCompany.id])
            #expect(companies.first?["cnpj_formatted"] as? String == "11.222.333/0001-81")

            let managerView = try await client.execute(uri: "/api/v1/tasks/\(world.brunoTask.id)", method: .get,
                                                       headers: APITokenTests.bearer(gestor))
            #expect(managerView.status == .ok)
            let assigned = try await client.execute(uri: "/api/v1/tasks", method: .post, headers: APITokenTests.bearer(gestor),
                                                    body: ByteBuffer(string: #"{"title":"Conferir folha","assignee_id":\#(fixture.bruno.id)}"#))
            #expect(assigned.status == .created)
        }
        let database = try fixture.services.database.database()
        #expect(try await TaskStore(database: database).tasks(assignedTo: fixture.bruno.id).map(\.status) == [.pending, .pending])
        await fixture.tearDown()
    }

    @Test("CNPJ check digits", arguments: [
        ("11.222.333/0001-81", "11222333000181"), ("11444777000161", "11444777000161"),
        ("11.222.333/0001-82", nil), ("00000000000000", nil), ("1122233300018", nil), ("11a22233300018", nil),
    ] as [(String, String?)])
    func cnpj(_ input: String, _ expected: String?) {
        #expect(CNPJ.normalized(input) == expected)
    }
}
