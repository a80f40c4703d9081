import Foundation
import NIOCore
import PortalCore
import PortalTestSupport
import Testing

/// A gigabyte through the edge process, each way, while its memory is watched.
@Suite("portal edge: 1 GiB bodies never sit in memory", .serialized)
struct EdgeMemoryTests {
    static let gigabyte = 1024 * 1024 * 1024

    @Test("1 GiB download and 1 GiB upload through the edge keep its peak RSS small")
    func gigabyteBothWays() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-e2e")
        defer { directory.remove() }
        let download = try await ScriptedUpstream.start(.largeBody(bytes: Self.gigabyte))
        let upload = try await ScriptedUpstream.start(.sink(bytes: Self.gigabyte))
        let port = try FreePort.allocate()
        let file = directory.file("portal.yaml")
        try """
            data_dir: \(directory.file("data"))
            edge:
              http_listeners: ["127.0.0.1:\(port)"]
              https_listeners: []
              access_log: "off"
              sites:
                - name: bulk
                  hosts: ["*"]
                  redirect_to_https: false
                  routes:
                    - {path: /down, upstreams: ["127.0.0.1:\(download.port)"]}
                    - {path: /up, upstreams: ["127.0.0.1:\(upload.port)"], max_body_size: 2g}
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let edge = try PortalProcess(arguments: ["edge", "--config", file], outputDirectory: directory.path)
        try edge.start()
        defer { edge.signal(SIGKILL) }
        let listening = await edge.waitForOutput(seconds: 30) { _, stderr in stderr.contains("edge listening") }
        #expect(listening, "\(edge.stderr)")
        guard listening else { return }

        let received = try await RawSocketClient.countingExchange(
            port: port, request: "GET /down HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout: .seconds(240))
        #expect(received.bytes > Self.gigabyte)

        let channel = try await RawSocketClient.open(port: port).0
        try await channel.writeAndFlush(ByteBuffer(string: "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: \(Self.gigabyte)\r\n\r\n"))
        let piece = ByteBuffer(repeating: UInt8(ascii: "u"), count: 1024 * 1024)
        for _ in 0..<(Self.gigabyte / piece.readableBytes) {
            try await channel.writeAndFlush(piece)
        }
        for _ in 0..<2400 where upload.bytesReceived < Self.gigabyte {
            try await Task.sleep(for: .milliseconds(50))
        }
        try? await channel.close()
        #expect(upload.bytesReceived == Self.gigabyte)

        let status = (try? String(contentsOfFile: "/proc/\(edge.process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let peakKiB = status.split(separator: "\n").first { $0.hasPrefix("VmHWM") }
            .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") } ?? Int.max
        #expect(peakKiB < 160 * 1024, "peak RSS \(peakKiB) KiB")
        edge.signal(SIGTERM)
        #expect(await edge.waitForExit(seconds: 30) == 0)
        await download.stop()
        await upload.stop()
    }
}
