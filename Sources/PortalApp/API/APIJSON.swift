import Foundation
import Hummingbird
import NIOCore
import PortalData

/// How `/api/v1` writes and reads JSON: snake_case keys, dates as `YYYY-MM-DD` (UTC) or ISO 8601.
enum APIJSON {
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        // Encoding our own plain structs cannot fail; an empty object is still valid JSON.
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Decodes a JSON request body, answering what was wrong and where when it does not fit.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, context: AppRequestContext) async throws -> T {
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true else {
            throw APIProblem(status: .unsupportedMediaType, code: "unsupported_media_type",
                             message: "Envie o corpo como application/json.")
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: context.maxUploadSize)
        } catch {
            throw APIProblem(status: .contentTooLarge, code: "body_too_large",
                             message: "O corpo da requisição passa de \(context.maxUploadSize / 1024) KiB.")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(T.self, from: Data(body.readableBytesView))
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
            throw APIProblem.badJSON("O corpo não é JSON válido.")
        } catch let DecodingError.keyNotFound(key, context) {
            throw APIProblem.badJSON("Falta o campo \"\(path(context.codingPath + [key]))\".")
        } catch let DecodingError.typeMismatch(_, context) {
            throw APIProblem.badJSON("O campo \"\(path(context.codingPath))\" tem o tipo errado.")
        } catch let DecodingError.valueNotFound(_, context) {
            throw APIProblem.badJSON("O campo \"\(path(context.codingPath))\" não pode ser nulo.")
        } catch {
            throw APIProblem.badJSON("O corpo não é JSON válido.")
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { key in key.intValue.map { "[\($0)]" } ?? snakeCase(key.stringValue) }.joined(separator: ".")
    }

    private static func snakeCase(_ name: String) -> String {
        name.reduce(into: "") { result, character in
            if character.isUppercase { result += "_" + character.lowercased() } else { result.append(character) }
        }
    }

    /// `YYYY-MM-DD` in UTC, the form due dates travel in.
    static func day(_ date: Date) -> String {
        let parts = Calendar.utc.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    /// Midnight UTC of a `YYYY-MM-DD` day; nil when the text is not a real date.
    static func day(_ text: String) -> Date? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (1900...9999).contains(year)
        else { return nil }
        let components = DateComponents(year: year, month: month, day: day)
        guard components.isValidDate(in: Calendar.utc), let date = Calendar.utc.date(from: components) else { return nil }
        return date
    }
}

extension Calendar {
    /// The Gregorian calendar in UTC.
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        return calendar
    }()
}

/// A task as `/api/v1` shows it.
struct TaskPayload: Encodable {
    let id: Int
    let title: String
    let details: String
    let status: String
    let statusLabel: String
    let dueDate: String?
    let assigneeId: Int

    init(_ task: TaskSummary) {
        id = task.id
        title = task.title
        details = task.details
        status = task.status.rawValue
        statusLabel = task.status.label
        dueDate = task.dueDate.map(APIJSON.day)
        assigneeId = task.assigneeID
    }
}

/// A company as `/api/v1` shows it.
struct CompanyPayload: Encodable {
    let id: Int
    let name: String
    let cnpj: String
    let cnpjFormatted: String
    let responsibleId: Int

    init(_ company: CompanySummary) {
        id = company.id
        name = company.name
        cnpj = company.cnpj
        cnpjFormatted = company.formattedCNPJ
        responsibleId = company.responsibleID
    }
}
