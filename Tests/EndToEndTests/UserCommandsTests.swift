import Foundation
import PortalCore
import PortalTestSupport
import Testing

@Suite("portal user", .serialized)
struct UserCommandsTests {
    @Test("create, list, set-role, deactivate, reset-password and activate, each audited; bad input changes nothing")
    func lifecycle() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-user")
        defer { directory.remove() }
        let data = ["--data-dir", directory.file("data")]
        func portal(_ arguments: [String], input: String? = nil) async throws -> (status: Int32, stdout: String, stderr: String) {
            try await PortalProcess.run(["user"] + arguments + data, outputDirectory: directory.path, input: input)
        }

        let created = try await portal(["create", "--email", "Joao@Escritorio.com.br", "--name", "João", "--role", "gestor",
                                        "--password-stdin"], input: "uma-senha-bem-comprida\n")
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.contains("created joao@escritorio.com.br (gestor)"))
        #expect(!created.stdout.contains("uma-senha-bem-comprida") && !created.stderr.contains("uma-senha-bem-comprida"))

        let generated = try await portal(["create", "--email", "maria@escritorio.com.br", "--name", "Maria", "--role", "colaborador",
                                          "--generate-password"])
        #expect(generated.status == 0, "\(generated.stderr)")
        let shown = try #require(generated.stdout.components(separatedBy: "password (shown only now): ").last?
            .trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(shown.count == 20)

        // Refusals: weak or short password, unknown role, no terminal, duplicate e-mail, unknown user.
        let refusals: [([String], String?, String)] = [
            (["create", "--email", "x@escritorio.com.br", "--name", "X", "--role", "gestor", "--password-stdin"], "senha12345678\n",
             "list of common passwords"),
            (["create", "--email", "x@escritorio.com.br", "--name", "X", "--role", "gestor", "--password-stdin"], "curta\n",
             "at least 12 characters"),
            (["create", "--email", "x@escritorio.com.br", "--name", "X", "--role", "chefe", "--generate-password"], nil,
             "--role must be admin, gestor or colaborador, got 'chefe'"),
            (["create", "--email", "x@escritorio.com.br", "--name", "X", "--role", "gestor"], nil, "no terminal to ask for the password"),
            (["create", "--email", "joao@escritorio.com.br", "--name", "J", "--role", "gestor", "--generate-password"], nil,
             "already exists"),
            (["deactivate", "--email", "ninguem@escritorio.com.br"], nil, "no user has the e-mail ninguem@escritorio.com.br"),
        ]
        for (arguments, input, message) in refusals {
            let result = try await portal(arguments, input: input)
            #expect(result.status != 0)
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }

        #expect(try await portal(["set-role", "--email", "joao@escritorio.com.br", "--role", "admin"]).stdout
            .contains("gestor → admin"))
        let lastAdmin = try await portal(["deactivate", "--email", "joao@escritorio.com.br"])
        #expect(lastAdmin.status != 0)
        #expect(lastAdmin.stderr.contains("only active admin"))
        #expect(try await portal(["deactivate", "--email", "maria@escritorio.com.br"]).status == 0)
        #expect(try await portal(["reset-password", "--email", "maria@escritorio.com.br", "--password-stdin"],
                                 input: "outra-senha-muito-boa\n").status == 0)
        #expect(try await portal(["activate", "--email", "maria@escritorio.com.br"]).status == 0)

        let list = try await portal(["list"])
        let lines = list.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines.contains { $0.hasPrefix("joao@escritorio.com.br") && $0.contains("admin") && $0.contains("active") })
        #expect(lines.contains { $0.hasPrefix("maria@escritorio.com.br") && $0.contains("colaborador") && $0.hasSuffix("Maria") })
    }
}
