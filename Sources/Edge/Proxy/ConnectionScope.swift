import Foundation
import NIOCore

/// What the proxy handlers of one client connection share: one handler for HTTP/1.1, one per
/// stream for HTTP/2, so a stream does not redo per-connection work (the client's address as
/// text, the current HTTP date, the site's metric handles). Confined to the connection's event
/// loop, which its streams share.
final class ConnectionScope {
    /// The client's IP address as text.
    let clientAddress: String
    /// The name the client asked for in TLS SNI, lower-cased; nil on plain HTTP or without SNI.
    let serverName: String?
    private var dateSecond = 0
    private var dateText = ""
    /// The metrics of the site this connection served last.
    var siteMetrics: SiteMetrics?
    /// Exchanges of this connection in progress (several for HTTP/2 streams).
    private var exchangesInFlight = 0

    init(remoteAddress: SocketAddress?, serverName: String? = nil) {
        self.clientAddress = remoteAddress?.ipAddress ?? "-"
        self.serverName = serverName?.lowercased()
    }

    /// An exchange began: the connection counts as busy while any of its exchanges is in progress.
    func exchangeBegan(_ stats: EdgeStats) {
        exchangesInFlight += 1
        if exchangesInFlight == 1 { stats.connectionBecameBusy() }
    }

    /// An exchange that `exchangeBegan` counted has ended, answered or not.
    func exchangeEnded(_ stats: EdgeStats) {
        guard exchangesInFlight > 0 else { return }
        exchangesInFlight -= 1
        if exchangesInFlight == 0 { stats.connectionBecameIdle() }
    }

    /// The current time as an HTTP date, formatted once per second.
    func httpDate() -> String {
        let now = time(nil)
        if now != dateSecond {
            dateSecond = now
            dateText = HTTPDate.format(now)
        }
        return dateText
    }
}
