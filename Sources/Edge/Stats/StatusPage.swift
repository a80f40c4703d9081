import Foundation

/// The edge's status page (mod_status): uptime, rates, connections, answers by class, and each
/// upstream's requests, failures and average response time. HTML, or JSON with `?json` or
/// `Accept: application/json`, or Apache's machine-readable `?auto` text for monitoring tools
/// set up against mod_status.
enum StatusPage {
    /// mod_status's `?auto` keys that monitoring tools read (apache_exporter, Zabbix, Munin).
    static func auto(_ snapshot: EdgeStats.Snapshot) -> String {
        let uptime = max(snapshot.uptime, 1)
        let idle = max(snapshot.openConnections - snapshot.busyConnections, 0)
        let perRequest = snapshot.requests > 0 ? Double(snapshot.bytesOut) / Double(snapshot.requests) : 0
        return [
            "ServerVersion: Portal", "ServerUptimeSeconds: \(Int(snapshot.uptime))",
            "Total Accesses: \(snapshot.requests)", "Total kBytes: \(snapshot.bytesOut / 1024)",
            "Uptime: \(Int(snapshot.uptime))",
            "ReqPerSec: \(String(format: "%.6f", Double(snapshot.requests) / uptime))",
            "BytesPerSec: \(String(format: "%.3f", Double(snapshot.bytesOut) / uptime))",
            "BytesPerReq: \(String(format: "%.3f", perRequest))",
            "BusyWorkers: \(snapshot.busyConnections)", "IdleWorkers: \(idle)",
            "ConnsTotal: \(snapshot.openConnections)",
        ].joined(separator: "\n") + "\n"
    }

    static func json(_ snapshot: EdgeStats.Snapshot, cache: ResponseCache.Usage? = nil) -> String {
        let uptime = max(snapshot.uptime, 1)
        var upstreams: [String] = []
        for (address, health) in snapshot.upstreams {
            upstreams.append("{\"address\":\(JSONLogFormat.quote(address)),\"requests\":\(health.requests),"
                + "\"failures\":\(health.failures),\"timeouts\":\(health.timeouts),"
                + "\"average_ms\":\(String(format: "%.3f", health.averageMilliseconds)),"
                + "\"state\":\"\(state(health))\"}")
        }
        return "{\"uptime_seconds\":\(Int(snapshot.uptime)),\"requests\":\(snapshot.requests),"
            + "\"requests_per_second\":\(String(format: "%.3f", Double(snapshot.requests) / uptime)),"
            + "\"bytes_sent\":\(snapshot.bytesOut),\"bytes_per_second\":\(String(format: "%.1f", Double(snapshot.bytesOut) / uptime)),"
            + "\"bytes_received\":\(snapshot.bytesIn),"
            + "\"connections\":{\"open\":\(snapshot.openConnections),\"busy\":\(snapshot.busyConnections),"
            + "\"idle\":\(max(snapshot.openConnections - snapshot.busyConnections, 0))},"
            + "\"responses\":{\"1xx\":\(snapshot.statusClasses[1]),\"2xx\":\(snapshot.statusClasses[2]),"
            + "\"3xx\":\(snapshot.statusClasses[3]),\"4xx\":\(snapshot.statusClasses[4]),\"5xx\":\(snapshot.statusClasses[5])},"
            + (cache.map { "\"cache\":{\"entries\":\($0.entries),\"bytes\":\($0.bytes)}," } ?? "")
            + "\"upstreams\":[\(upstreams.joined(separator: ","))]}\n"
    }

    static func html(_ snapshot: EdgeStats.Snapshot, cache: ResponseCache.Usage? = nil) -> String {
        let uptime = max(snapshot.uptime, 1)
        var rows = ""
        for (address, health) in snapshot.upstreams {
            rows += "<tr><td>\(HTMLEscape.escape(address))</td><td>\(state(health))</td><td>\(health.requests)</td>"
                + "<td>\(health.failures)</td><td>\(health.timeouts)</td><td>\(String(format: "%.1f", health.averageMilliseconds)) ms</td></tr>\n"
        }
        return """
            <!DOCTYPE html>
            <html lang="pt-BR"><head><meta charset="utf-8"><title>Estado do Portal</title></head><body>
            <h1>Estado do Portal</h1>
            <p>Em funcionamento há \(Int(snapshot.uptime)) s · \(snapshot.requests) requisições \
            (\(String(format: "%.2f", Double(snapshot.requests) / uptime))/s) · \(snapshot.bytesOut) bytes enviados \
            (\(String(format: "%.0f", Double(snapshot.bytesOut) / uptime)) B/s)</p>
            <p>Conexões: \(snapshot.openConnections) abertas, \(snapshot.busyConnections) ocupadas, \
            \(max(snapshot.openConnections - snapshot.busyConnections, 0)) ociosas</p>
            <p>Respostas: 2xx \(snapshot.statusClasses[2]) · 3xx \(snapshot.statusClasses[3]) · \
            4xx \(snapshot.statusClasses[4]) · 5xx \(snapshot.statusClasses[5])</p>
            \(cache.map { "<p>Cache: \($0.entries) respostas guardadas, \($0.bytes) bytes</p>" } ?? "")
            <table><thead><tr><th>Upstream</th><th>Estado</th><th>Requisições</th><th>Falhas</th><th>Tempos esgotados</th><th>Tempo médio</th></tr></thead>
            <tbody>
            \(rows)</tbody></table>
            </body></html>

            """
    }

    /// `up`, `down` (last answer was a failure), or `unknown` (never used).
    static func state(_ health: EdgeStats.UpstreamHealth) -> String {
        switch (health.lastSuccess, health.lastFailure) {
        case (nil, nil): "unknown"
        case (nil, _?): "down"
        case (_?, nil): "up"
        case (let success?, let failure?): success > failure ? "up" : "down"
        }
    }
}
