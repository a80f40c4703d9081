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

/// `keepalive_timeout` on HTTP/2: a connection without open streams for that long gets GOAWAY
/// and is closed; one with a stream still waiting on its upstream is not.
@Suite("Edge: HTTP/2 keep-alive timeout", .serialized)
struct EdgeHTTP2KeepAliveTests {
    final class Recorder: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTP2Frame
        let statuses = NIOLockedValueBox<[String]>([])
        let goAway = NIOLockedValueBox<NIODeadline?>(nil)
        let closed = NIOLockedValueBox<NIODeadline?>(nil)

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data).payload {
            case .goAway: goAway.withLockedValue { $0 = $0 ?? .now() }
            case .headers(let headers):
                if let status = headers.headers.first(name: ":status") { statuses.withLockedValue { $0.append(status) } }
            default: break
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            closed.withLockedValue { $0 = $0 ?? .now() }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    static func request(_ path: String, stream: Int, on channel: any Channel) async throws {
        let headers = HPACKHeaders([(":method", "GET"), (":path", path), (":scheme", "https"), (":authority", "localhost")])
        try await channel.writeAndFlush(HTTP2Frame(streamID: HTTP2StreamID(stream),
                                                   payload: .headers(.init(headers: headers, endStream: true))))
    }

    /// An upstream that answers `/slow` after `slowDelay` and everything else at once, and an
    /// edge in front of it.
    static func start(slowDelay: TimeAmount, configure: @escaping (inout EdgeSettings) -> Void)
        async throws -> (RecordingUpstream, EdgeFixture) {
        let upstream = try await RecordingUpstream.start { request, _ in
            ScriptedResponse(body: "ok", delay: request.uri == "/slow" ? slowDelay : .zero)
        }
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: upstream.port)],
                                               configure: configure)
        return (upstream, edge)
    }

    @Test("a graceful stop sends GOAWAY to idle HTTP/2 clients and does not wait for the drain timeout")
    func gracefulStop() async throws {
        let (upstream, edge) = try await Self.start(slowDelay: .milliseconds(1_500)) {
            $0.keepAliveTimeoutSeconds = 60
            $0.drainTimeoutSeconds = 20
        }
        let idleRecorder = Recorder()
        let idle = try await edge.rawHTTP2Connection(handler: idleRecorder)
        try await Self.request("/fast", stream: 1, on: idle)
        let busyRecorder = Recorder()
        let busy = try await edge.rawHTTP2Connection(handler: busyRecorder)
        for _ in 0..<50 where idleRecorder.statuses.withLockedValue({ $0 }).isEmpty {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Self.request("/slow", stream: 1, on: busy)
        try await Task.sleep(for: .milliseconds(200))
        let started = NIODeadline.now()
        await edge.stop()
        let stopSeconds = Double((NIODeadline.now() - started).nanoseconds) / 1e9
        try? await idle.close()
        try? await busy.close()
        await upstream.stop()

        #expect(idleRecorder.goAway.withLockedValue { $0 } != nil)
        #expect(idleRecorder.closed.withLockedValue { $0 } != nil)
        // The stream in progress was answered before its connection closed.
        #expect(busyRecorder.statuses.withLockedValue { $0 } == ["200"])
        #expect(busyRecorder.goAway.withLockedValue { $0 } != nil)
        #expect(stopSeconds < 8, "the stop took \(stopSeconds) s: it waited for the drain timeout")
    }

    @Test("an idle HTTP/2 connection is closed after keepalive_timeout; a waiting stream keeps it open")
    func idleConnection() async throws {
        // Two seconds, not one: the countdown starts when the connection is set up, and a loaded
        // test machine can take most of a second before the first stream's HEADERS are read.
        let (upstream, edge) = try await Self.start(slowDelay: .milliseconds(3_500)) {
            $0.keepAliveTimeoutSeconds = 2
        }
        // One quick request, then silence: GOAWAY and close about two seconds after the answer.
        let idleRecorder = Recorder()
        let idle = try await edge.rawHTTP2Connection(handler: idleRecorder)
        try await Self.request("/fast", stream: 1, on: idle)
        // A request the upstream sits on for 3.5 s: the connection must outlive the 2 s limit.
        let busyRecorder = Recorder()
        let busy = try await edge.rawHTTP2Connection(handler: busyRecorder)
        let busySent = NIODeadline.now()
        try await Self.request("/slow", stream: 1, on: busy)
        for _ in 0..<120 {
            if idleRecorder.closed.withLockedValue({ $0 }) != nil && busyRecorder.closed.withLockedValue({ $0 }) != nil { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        try? await idle.close()
        try? await busy.close()
        await edge.stop()
        await upstream.stop()

        #expect(idleRecorder.statuses.withLockedValue { $0 } == ["200"])
        #expect(idleRecorder.goAway.withLockedValue { $0 } != nil)
        #expect(idleRecorder.closed.withLockedValue { $0 } != nil)
        // The slow answer arrived, and only then did the idle countdown start.
        #expect(busyRecorder.statuses.withLockedValue { $0 } == ["200"])
        let busyClosed = busyRecorder.closed.withLockedValue { $0 }
        #expect(busyClosed != nil)
        if let busyClosed {
            let seconds = Double((busyClosed - busySent).nanoseconds) / 1e9
            #expect(seconds >= 5.0 && seconds < 10.0, "\(seconds)")
        }
    }
}
