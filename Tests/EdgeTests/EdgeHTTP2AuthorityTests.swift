import Edge
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import NIOSSL
import PortalCore
import PortalTestSupport
import Testing

/// RFC 9113 §8.3.1: `:authority` names the host; `Host` may stand in for it.
@Suite("Edge: HTTP/2 :authority and Host", .serialized)
struct EdgeHTTP2AuthorityTests {
    /// Collects the `:status` of each stream's response.
    final class StatusRecorder: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTP2Frame
        let statuses = NIOLockedValueBox<[Int: String]>([:])
        let resets = NIOLockedValueBox<[Int]>([])

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            let id = Int(frame.streamID)
            switch frame.payload {
            case .headers(let headers):
                if let status = headers.headers.first(name: ":status") { statuses.withLockedValue { $0[id] = status } }
            case .rstStream:
                resets.withLockedValue { $0.append(id) }
            default:
                break
            }
        }
    }

    @Test("Host alone stands in for :authority; when both are sent and differ, :authority decides")
    func authority() async throws {
        let upstream = try await RecordingUpstream.start(responseBody: "portal")
        let edge = try await EdgeFixture.start(upstreams: []) { edge in
            var site = SiteSettings(name: "portal", hosts: ["localhost"], routes: [
                RouteSettings(path: "/", upstreams: ["127.0.0.1:\(upstream.port)"])])
            site.redirectToHTTPS = false
            edge.sites = [site]
        }
        let recorder = StatusRecorder()
        let channel = try await edge.rawHTTP2Connection(handler: recorder)
        let requests: [(Int, [(String, String)])] = [
            (1, [(":method", "GET"), (":path", "/host-only"), (":scheme", "https"), ("host", "localhost")]),
            (3, [(":method", "GET"), (":path", "/authority-wins"), (":scheme", "https"), (":authority", "localhost"),
                 ("host", "elsewhere.test")]),
            (5, [(":method", "GET"), (":path", "/other-authority"), (":scheme", "https"), (":authority", "elsewhere.test"),
                 ("host", "localhost")]),
        ]
        for (id, fields) in requests {
            let frame = HTTP2Frame(streamID: HTTP2StreamID(id), payload: .headers(.init(headers: HPACKHeaders(fields), endStream: true)))
            try await channel.writeAndFlush(frame)
        }
        for _ in 0..<100 where recorder.statuses.withLockedValue({ $0.count }) < 3 {
            try await Task.sleep(for: .milliseconds(50))
        }
        try? await channel.close()
        await edge.stop()
        await upstream.stop()
        let statuses = recorder.statuses.withLockedValue { $0 }
        #expect(statuses[1] == "200")
        #expect(statuses[3] == "200")
        #expect(statuses[5] == "421")
        #expect(recorder.resets.withLockedValue { $0 }.isEmpty)
        #expect(upstream.requests.map(\.uri).sorted() == ["/authority-wins", "/host-only"])
    }
}
