import NIOCore
import NIOHTTP2
import NIOPosix
import NIOSSL

extension EdgeFixture {
    /// A TLS connection to the edge's HTTPS port that speaks HTTP/2 frame by frame (no stream
    /// multiplexer), so a test can send what a client library would refuse to; `handler` sees
    /// every frame the edge sends.
    /// `validating: false` lets the test send heads NIO would refuse to write (malformed requests).
    func rawHTTP2Connection(handler: any ChannelHandler & Sendable, validating: Bool = true) async throws -> any Channel {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .file(certificateFile)
        configuration.applicationProtocols = ["h2"]
        let context = try NIOSSLContext(configuration: configuration)
        return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let operations = channel.pipeline.syncOperations
                    try operations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: "localhost"))
                    try operations.addHandler(NIOHTTP2Handler(mode: .client, headerBlockValidation: validating ? .enabled : .disabled))
                    try operations.addHandler(handler)
                }
            }
            .connect(host: "127.0.0.1", port: httpsPort).get()
    }
}
