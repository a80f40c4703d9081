import Hummingbird
import NIOCore
import PortalCore
import PortalData

/// `GET /health`: the app's version and whether the database answers (503 when it does not).
struct HealthRoutes {
    let services: AppServices

    func register(on router: Router<AppRequestContext>) {
        router.get("/health") { _, _ -> Response in
            let databaseOK = await services.database.ping()
            let body = #"{"status":"\#(databaseOK ? "ok" : "error")","version":"\#(PortalVersion.current)","database":"\#(databaseOK ? "ok" : "error")"}"#
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            headers[.cacheControl] = "no-store"
            return Response(status: databaseOK ? .ok : .serviceUnavailable, headers: headers,
                            body: .init(byteBuffer: ByteBuffer(string: body)))
        }
    }
}
