import Hummingbird
import Logging

/// Applies the `TrustedProxyPolicy` to every request: untrusted forwarding headers are removed
/// before any route sees them, and the context learns the real client address and scheme.
struct ForwardedHeadersMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let policy: TrustedProxyPolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response {
        var head = request.head
        var headers = head.headerFields
        var context = context
        context.origin = policy.resolve(peer: context.peerAddress, headers: &headers)
        context.logger[metadataKey: "client"] = .string(context.origin.clientAddress)
        if headers != head.headerFields {
            head.headerFields = headers
            return try await next(Request(head: head, body: request.body), context)
        }
        return try await next(request, context)
    }
}
