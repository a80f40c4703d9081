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

/// CVE-2023-44487: a client that opens streams and cancels them at once, over and over, must
/// be cut off instead of keeping the edge (and its upstreams) busy.
@Suite("Edge: HTTP/2 rapid reset", .serialized)
struct EdgeRapidResetTests {
    final class FrameRecorder: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTP2Frame
        let goAway = NIOLockedValueBox(false)
        let closed = NIOLockedValueBox(false)

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .goAway = unwrapInboundIn(data).payload { goAway.withLockedValue { $0 = true } }
        }

        func channelInactive(context: ChannelHandlerContext) {
            closed.withLockedValue { $0 = true }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    final class StreamOutcomes: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTP2Frame
        let resets = NIOLockedValueBox<[HTTP2StreamID]>([])
        let statuses = NIOLockedValueBox<[HTTP2StreamID: String]>([:])
        let goAway = NIOLockedValueBox(false)

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            switch frame.payload {
            case .rstStream: resets.withLockedValue { $0.append(frame.streamID) }
            case .goAway: goAway.withLockedValue { $0 = true }
            case .headers(let headers):
                if let status = headers.headers.first(name: ":status") {
                    statuses.withLockedValue { $0[frame.streamID] = status }
                }
            default: break
            }
        }
    }

    @Test("a malformed request resets its own stream only; the connection serves the next one")
    func streamErrorKeepsConnection() async throws {
        let upstream = try await RecordingUpstream.start()
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: upstream.port)])
        let outcomes = StreamOutcomes()
        let channel = try await edge.rawHTTP2Connection(handler: outcomes, validating: false)
        let base: [(String, String)] = [(":method", "GET"), (":path", "/"), (":scheme", "https"), (":authority", "localhost")]
        // A connection-specific field is malformed in HTTP/2 (RFC 9113 §8.2.2).
        try await channel.writeAndFlush(HTTP2Frame(streamID: 1, payload: .headers(.init(
            headers: HPACKHeaders(base + [("connection", "keep-alive")]), endStream: true))))
        try await Task.sleep(for: .milliseconds(200))
        try await channel.writeAndFlush(HTTP2Frame(streamID: 3, payload: .headers(.init(headers: HPACKHeaders(base), endStream: true))))
        for _ in 0..<40 where outcomes.statuses.withLockedValue({ $0[3] == nil }) {
            try await Task.sleep(for: .milliseconds(50))
        }
        try? await channel.close()
        await edge.stop()
        await upstream.stop()
        #expect(outcomes.resets.withLockedValue { $0 } == [1])
        #expect(outcomes.statuses.withLockedValue { $0[3] } == "200")
        #expect(!outcomes.goAway.withLockedValue { $0 })
    }

    @Test("opening and resetting streams in a burst gets a GOAWAY, then the connection closed")
    func rapidReset() async throws {
        let upstream = try await RecordingUpstream.start(delay: .seconds(1))
        let edge = try await EdgeFixture.start(upstreams: [HostAndPort(host: "127.0.0.1", port: upstream.port)])
        let recorder = FrameRecorder()
        let channel = try await edge.rawHTTP2Connection(handler: recorder)
        let headers = HPACKHeaders([(":method", "GET"), (":path", "/"), (":scheme", "https"), (":authority", "localhost")])
        var sent = 0
        for index in 0..<2_000 {
            guard channel.isActive, !recorder.goAway.withLockedValue({ $0 }) else { break }
            let stream = HTTP2StreamID(2 * index + 1)
            channel.write(HTTP2Frame(streamID: stream, payload: .headers(.init(headers: headers, endStream: true))), promise: nil)
            channel.write(HTTP2Frame(streamID: stream, payload: .rstStream(.cancel)), promise: nil)
            if index % 50 == 49 { try? await channel.writeAndFlush(HTTP2Frame(streamID: .rootStream, payload: .ping(.init(), ack: false))) }
            sent += 1
        }
        channel.flush()
        // The client now stays silent: the edge must close the connection itself after its
        // GOAWAY, well before the keep-alive timeout (5 s) would.
        for _ in 0..<60 where !recorder.closed.withLockedValue({ $0 }) {
            try await Task.sleep(for: .milliseconds(50))
        }
        let goAway = recorder.goAway.withLockedValue { $0 }
        let closed = recorder.closed.withLockedValue { $0 }
        try? await channel.close()
        await edge.stop()
        await upstream.stop()
        #expect(goAway, "no GOAWAY after \(sent) streams were reset")
        #expect(closed, "the edge kept a connection that reset \(sent) streams open")
        #expect(sent < 2_000, "the edge let all 2000 streams be opened and reset")
        #expect(sent >= 100, "the connection was usable before the flood: \(sent) streams")
    }
}
