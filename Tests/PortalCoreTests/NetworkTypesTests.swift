import Foundation
import PortalCore
import PortalTestSupport
import Testing

@Suite("Addresses, ranges and ports")
struct NetworkTypesTests {
    @Test("IP addresses parse and classify")
    func addresses() throws {
        #expect(IPAddress("127.0.0.1")?.isLoopback == true)
        #expect(IPAddress("127.10.0.1")?.isLoopback == true)
        #expect(IPAddress("::1")?.isLoopback == true)
        #expect(IPAddress("[::1]")?.isLoopback == true)
        #expect(IPAddress("::ffff:127.0.0.1") == IPAddress("127.0.0.1"))
        #expect(IPAddress("0.0.0.0")?.isUnspecified == true)
        #expect(IPAddress("10.0.0.1")?.isLoopback == false)
        #expect(IPAddress("localhost") == nil)
        #expect(IPAddress("256.1.1.1") == nil)
        #expect(IPAddress("1.2.3.4")?.description == "1.2.3.4")
    }

    @Test("CIDR ranges contain what they should")
    func ranges() throws {
        let range = try #require(IPRange("10.0.0.0/8"))
        #expect(range.contains(try #require(IPAddress("10.255.1.2"))))
        #expect(!range.contains(try #require(IPAddress("11.0.0.1"))))
        #expect(!range.contains(try #require(IPAddress("::1"))))
        let single = try #require(IPRange("127.0.0.1"))
        #expect(single.contains(try #require(IPAddress("127.0.0.1"))))
        #expect(!single.contains(try #require(IPAddress("127.0.0.2"))))
        let v6 = try #require(IPRange("fd00::/8"))
        #expect(v6.contains(try #require(IPAddress("fd12::1"))))
        #expect(IPRange("10.0.0.0/33") == nil)
        #expect(IPRange("10.0.0.0/x") == nil)
        #expect(IPRange("nonsense") == nil)
    }

    @Test("host:port pairs parse")
    func hostAndPort() throws {
        #expect(HostAndPort("127.0.0.1:9000") == HostAndPort(host: "127.0.0.1", port: 9000))
        #expect(HostAndPort("[::1]:9000") == HostAndPort(host: "::1", port: 9000))
        #expect(HostAndPort("http://127.0.0.1:9000/") == HostAndPort(host: "127.0.0.1", port: 9000))
        #expect(HostAndPort("app.internal:80")?.host == "app.internal")
        #expect(HostAndPort("127.0.0.1") == nil)
        #expect(HostAndPort("127.0.0.1:0") == nil)
        #expect(HostAndPort("::1:9000") == nil)
        #expect(HostAndPort("[::1]:9000")?.description == "[::1]:9000")
    }

    @Test("the process holding a port is found")
    func portHolder() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(descriptor >= 0)
        defer { close(descriptor) }
        let port = try FreePort.bindLoopback(descriptor)
        #expect(listen(descriptor, 1) == 0)
        let holder = try #require(PortHolder.find(port: port))
        #expect(holder.pid == getpid())
        let message = PortInUseMessage.text(port: port, address: "127.0.0.1", role: "HTTPS (edge)",
                                            flag: "--https-port")
        #expect(message.contains("already in use by"))
        #expect(message.contains("pid \(getpid())"))
        #expect(message.contains("--https-port"))
    }
    @Test("the process holding a port is found among many sockets (past the first page of /proc/net/tcp)")
    func portHolderAmongMany() async throws {
        var holders: [RecordingUpstream] = []
        for _ in 0..<60 { holders.append(try await RecordingUpstream.start()) }
        let missing = holders.filter { PortHolder.find(port: $0.port)?.pid != getpid() }.map(\.port)
        for holder in holders { await holder.stop() }
        #expect(missing.isEmpty, "ports whose holder was not found: \(missing)")
    }
}
