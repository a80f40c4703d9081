import Foundation
import Hummingbird
import PortalData

/// What every signed-in page needs: the header values, the form token, the sign-in redirect,
/// and form decoding with a size limit.
enum PageSupport {
    /// The header and CSRF token values every page of a signed-in `user` passes to the layout.
    static func base(_ user: UserAccount, context: AppRequestContext, services: AppServices) -> [String: Any] {
        ["user": PageRenderer.header(for: user), "csrf": csrfToken(context: context, services: services)]
    }

    static func csrfToken(context: AppRequestContext, services: AppServices) -> String {
        context.sessionToken.map { services.csrf.token(for: "session|" + $0) } ?? ""
    }

    /// To the login page, coming back to `path` afterwards (303 after a form, 302 otherwise).
    static func signIn(returningTo path: String, afterForm: Bool = false) -> Response {
        let encoded = path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? "/tasks"
        return Response.redirect(to: "/login?next=\(encoded)", type: afterForm ? .normal : .found)
    }

    /// Decodes an `application/x-www-form-urlencoded` body of at most `limit` bytes; a body that
    /// does not decode is a 400 with `problem` as the message.
    static func form<T: Decodable>(_ type: T.Type, from request: Request, limit: Int = 16 * 1024,
                                   problem: String = "Formulário inválido.") async throws -> T {
        var request = request
        let body = try await request.collectBody(upTo: limit)
        do {
            return try URLEncodedFormDecoder().decode(T.self, from: String(buffer: body))
        } catch {
            throw HTTPError(.badRequest, message: problem)
        }
    }

    /// The positive integer id in the path parameter `id`, or nil.
    static func id(_ context: AppRequestContext) -> Int? {
        guard let text = context.parameters.get("id"), let id = Int(text), id > 0 else { return nil }
        return id
    }

    /// `dd/MM/yyyy HH:mm` as people in Brazil write it (the server's time zone).
    static func dateTime(_ date: Date) -> String {
        date.formatted(dateTimeStyle)
    }

    /// `dd/MM/yyyy`.
    static func date(_ date: Date) -> String {
        date.formatted(dateStyle)
    }

    private static let dateTimeStyle = Date.VerbatimFormatStyle(
        format: "\(day: .twoDigits)/\(month: .twoDigits)/\(year: .padded(4)) \(hour: .twoDigits(clock: .twentyFourHour, hourCycle: .zeroBased)):\(minute: .twoDigits)",
        timeZone: .current, calendar: Calendar(identifier: .gregorian))
    private static let dateStyle = Date.VerbatimFormatStyle(
        format: "\(day: .twoDigits)/\(month: .twoDigits)/\(year: .padded(4))",
        timeZone: .current, calendar: Calendar(identifier: .gregorian))

    /// The 404 page: unknown and not-yours look the same.
    static func notFound(_ renderer: PageRenderer, _ message: String) -> Response {
        renderer.render("not_found", ["message": message], status: .notFound)
    }
}
