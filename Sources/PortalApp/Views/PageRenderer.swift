import Hummingbird
import Mustache
import NIOCore
import PortalData

/// Renders the templates into HTML responses.
struct PageRenderer: Sendable {
    private let library: MustacheLibrary

    init() throws {
        var library = MustacheLibrary()
        try library.register(PageTemplates.layout, named: "layout")
        try library.register(PageTemplates.login, named: "login")
        try library.register(PageTemplates.tasks, named: "tasks")
        try library.register(PageTemplates.forbidden, named: "forbidden")
        try library.register(PageTemplates.tooManyRequests, named: "too_many_requests")
        try library.register(PageTemplates.unavailable, named: "unavailable")
        try library.register(PageTemplates.sessions, named: "sessions")
        try library.register(PageTemplates.audit, named: "audit")
        try library.register(PageTemplates.notFound, named: "not_found")
        try library.register(PageTemplates.task, named: "task")
        try library.register(PageTemplates.companies, named: "companies")
        try library.register(PageTemplates.company, named: "company")
        try library.register(PageTemplates.tokens, named: "tokens")
        try library.register(PageTemplates.password, named: "password")
        try library.register(PageTemplates.adminUsers, named: "admin_users")
        self.library = library
    }

    /// What the layout's header shows for the signed-in `user`.
    static func header(for user: UserAccount) -> [String: Any] {
        ["name": user.name, "isAdmin": user.role == .admin]
    }

    func render(_ template: String, _ values: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let html = library.render(values, withTemplate: template) ?? ""
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}
