import Foundation
public import NIOSSL
public import PortalCore

/// Everything the edge needs at run time, resolved from the configuration: addresses to bind,
/// the TLS context, upstreams and limits.
public struct EdgeOptions: Sendable {
    public var listenAddresses: [String]
    public var httpPort: Int
    public var httpsPort: Int
    public var serverName: String
    public var upstreams: [HostAndPort]
    public var tlsContext: NIOSSLContext
    public var accessLogPath: String?
    public var settings: EdgeSettings

    public init(
        listenAddresses: [String], httpPort: Int, httpsPort: Int, serverName: String,
        upstreams: [HostAndPort], tlsContext: NIOSSLContext, accessLogPath: String?, settings: EdgeSettings
    ) {
        self.listenAddresses = listenAddresses
        self.httpPort = httpPort
        self.httpsPort = httpsPort
        self.serverName = serverName
        self.upstreams = upstreams
        self.tlsContext = tlsContext
        self.accessLogPath = accessLogPath
        self.settings = settings
    }

    /// Resolves the options from a loaded configuration: the configured certificate, or the
    /// development certificate in `<data_dir>/tls`; the configured upstreams, or the app's address.
    public static func resolve(_ configuration: PortalConfiguration) throws -> EdgeOptions {
        let edge = configuration.edge
        let certificateFile: String
        let keyFile: String
        if let configured = edge.certificateFile, let key = edge.keyFile {
            certificateFile = configured
            keyFile = key
        } else {
            let development = DevelopmentCertificate(directory: DataDirectory(configuration.dataDirectory).tlsDirectory)
            guard FileManager.default.fileExists(atPath: development.certificateFile) else {
                throw TLSSetupError("""
                    no certificate: \(development.certificateFile) does not exist. Run `portal up` once to \
                    generate the development certificate, or set edge.certificate_file and edge.key_file
                    """)
            }
            certificateFile = development.certificateFile
            keyFile = development.keyFile
        }
        let tlsContext = try ServerTLS.makeContext(certificateFile: certificateFile, keyFile: keyFile)
        let upstreams = edge.upstreams.isEmpty
            ? [HostAndPort(host: configuration.app.host, port: configuration.app.port)]
            : edge.upstreams.compactMap(HostAndPort.init)
        return EdgeOptions(
            listenAddresses: edge.listen, httpPort: edge.httpPort, httpsPort: edge.httpsPort,
            serverName: edge.serverName, upstreams: upstreams, tlsContext: tlsContext,
            accessLogPath: DataDirectory(configuration.dataDirectory).accessLogFile, settings: edge)
    }
}
