import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An `/api/v1` request that cannot be served: the status, a stable machine-readable code and a
/// message for people. Every API error leaves the app as `{"error": {"code", "message"}}`.
struct APIProblem: Error, Sendable {
    let status: HTTPResponse.Status
    let code: String
    let message: String
    var headers: HTTPFields = [:]

    static func notFound(_ message: String = "Recurso não encontrado.") -> APIProblem {
        APIProblem(status: .notFound, code: "not_found", message: message)
    }

    static func invalid(_ message: String) -> APIProblem {
        APIProblem(status: .unprocessableContent, code: "invalid_request", message: message)
    }

    static func badJSON(_ message: String) -> APIProblem {
        APIProblem(status: .badRequest, code: "malformed_json", message: message)
    }

    /// No token, or one that is unknown, revoked or expired.
    static func unauthenticated(tokenWasSent: Bool) -> APIProblem {
        let challenge = tokenWasSent ? #"Bearer realm="portal", error="invalid_token""# : #"Bearer realm="portal""#
        return APIProblem(status: .unauthorized, code: tokenWasSent ? "invalid_token" : "missing_token",
                          message: tokenWasSent
                              ? "Token inválido, expirado ou revogado."
                              : "Envie um token pessoal no cabeçalho Authorization: Bearer.",
                          headers: [.wwwAuthenticate: challenge])
    }

    /// A read-only token used for a change.
    static var insufficientScope: APIProblem {
        APIProblem(status: .forbidden, code: "insufficient_scope",
                   message: "Este token permite somente leitura; crie um token com leitura e escrita.",
                   headers: [.wwwAuthenticate: #"Bearer realm="portal", error="insufficient_scope", scope="read,write""#])
    }

    static func tooManyRequests(retryAfter seconds: Int) -> APIProblem {
        APIProblem(status: .tooManyRequests, code: "rate_limited",
                   message: "Limite de chamadas deste token atingido. Tente novamente em \(PortugueseDuration.text(seconds: seconds)).",
                   headers: [.retryAfter: String(seconds)])
    }

    var response: Response {
        struct Body: Encodable {
            struct Detail: Encodable {
                let code: String
                let message: String
            }
            let error: Detail
        }
        var response = APIJSON.response(Body(error: .init(code: code, message: message)), status: status)
        for field in headers { response.headers.append(field) }
        return response
    }
}
