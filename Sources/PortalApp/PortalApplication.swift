public import Hummingbird
import HummingbirdCore
public import NIOCore
import Logging
import PortalCore
import PortalData

/// Builds the portal web application (the Waitress + Flask roles) on Hummingbird.
public enum PortalApplication {
    /// The router with every route and middleware, ready for tests or a server.
    public static func router(services: AppServices) throws -> Router<AppRequestContext> {
        let router = Router(context: AppRequestContext.self, options: .autoGenerateHeadEndpoints)
        let renderer = try PageRenderer()
        router.add(middleware: LogRequestsMiddleware(.debug))
        router.add(middleware: ForwardedHeadersMiddleware(policy: TrustedProxyPolicy(
            trustedProxies: services.settings.trustedProxies,
            trustedProxyCount: services.settings.trustedProxyCount)))
        if services.settings.requestsPerMinutePerClient > 0 {
            router.add(middleware: ClientRateLimitMiddleware(
                limiter: ClientRateLimiter(perMinute: services.settings.requestsPerMinutePerClient), renderer: renderer))
        }
        router.add(middleware: DatabaseOutageMiddleware(services: services, renderer: renderer))
        router.add(middleware: SessionMiddleware(services: services))
        router.add(middleware: CSRFMiddleware(services: services, renderer: renderer))
        HealthRoutes(services: services).register(on: router)
        let login = LoginRoutes(services: services, renderer: renderer)
        login.register(on: router)
        GoogleSignInRoutes(services: services, renderer: renderer, login: login).register(on: router)
        TaskRoutes(services: services, renderer: renderer).register(on: router)
        SessionRoutes(services: services, renderer: renderer).register(on: router)
        AuditRoutes(services: services, renderer: renderer).register(on: router)
        CompanyRoutes(services: services, renderer: renderer).register(on: router)
        TokenRoutes(services: services, renderer: renderer).register(on: router)
        PasswordRoutes(services: services, renderer: renderer).register(on: router)
        AdminUserRoutes(services: services, renderer: renderer).register(on: router)
        APIRoutes(services: services).register(on: router)
        return router
    }

    /// The application bound to `settings.host:settings.port`.
    public static func application(
        services: AppServices,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        Application(
            router: try router(services: services),
            configuration: ApplicationConfiguration(
                address: .hostname(services.settings.host, port: services.settings.port),
                serverName: "Portal"),
            onServerRunning: onServerRunning,
            logger: services.logger)
    }
}
