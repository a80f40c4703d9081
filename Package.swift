// swift-tools-version:6.2
import Foundation
import PackageDescription

/// The MariaDB/MySQL driver links Debian's C connector; it is built when its headers are
/// installed (`scripts/start-mariadb.sh` installs them; CI always has them). Without them
/// `portal` builds and runs on SQLite and PostgreSQL, and refuses `mysql://` URLs saying why.
let withMariaDB = FileManager.default.fileExists(atPath: "/usr/include/mariadb/mysql.h")

/// Upcoming features every target builds with (see STYLE.md).
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

func product(_ name: String, _ package: String) -> Target.Dependency {
    .product(name: name, package: package)
}

let package = Package(
    name: "portal",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "portal", targets: ["portal"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // One trait only: with the default traits the build re-plans in a different order each time.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1",
                 traits: ["FullFoundation"]),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/vapor/fluent-kit.git", from: "1.57.0"),
        .package(url: "https://github.com/vapor/fluent-sqlite-driver.git", from: "4.9.0"),
        .package(url: "https://github.com/vapor/fluent-postgres-driver.git", from: "2.14.0"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // Configuration, version, diagnostics shared by every process.
        .target(
            name: "PortalCore",
            dependencies: [
                product("Yams", "Yams"),
                product("Logging", "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // Brotli compression from Debian's libbrotli-dev (the streaming encoder).
        .systemLibrary(name: "CBrotli", pkgConfig: "libbrotlienc", providers: [.apt(["libbrotli-dev"])]),
        // Whole-buffer gzip from Debian's libdeflate-dev: the same ratio as zlib at each level, for
        // about half the CPU (docs/benchmarks.md, "Compression").
        .systemLibrary(name: "CLibDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        // BoringSSL settings swift-nio-ssl does not expose (cipher order, OCSP stapling).
        .target(name: "CTLSContextTuning"),
        // The reverse proxy (the Apache role).
        .target(
            name: "Edge",
            dependencies: [
                "PortalCore",
                "CBrotli",
                "CLibDeflate",
                "CTLSContextTuning",
                product("AsyncHTTPClient", "async-http-client"),
                product("NIOCore", "swift-nio"),
                product("NIOPosix", "swift-nio"),
                product("NIOHTTP1", "swift-nio"),
                product("NIOSSL", "swift-nio-ssl"),
                product("NIOTLS", "swift-nio"),
                product("NIOHTTP2", "swift-nio-http2"),
                product("NIOHPACK", "swift-nio-http2"),
                product("CompressNIO", "compress-nio"),
                product("FluentSQL", "fluent-kit"),
                product("HummingbirdBcrypt", "hummingbird-auth"),
                product("Prometheus", "swift-prometheus"),
                product("X509", "swift-certificates"),
                product("SwiftASN1", "swift-asn1"),
                product("Crypto", "swift-crypto"),
                product("Logging", "swift-log"),
                product("ServiceLifecycle", "swift-service-lifecycle"),
                product("UnixSignals", "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings + [
                // The proxy's state lives in event-loop-confined classes; dynamic exclusivity checks
                // on every property access cost several percent of the hot path in release builds.
                .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
            ]
        ),
        // Models, migrations, database selection, secrets.
        .target(
            name: "PortalData",
            dependencies: [
                "PortalCore",
                product("FluentKit", "fluent-kit"),
                product("FluentSQLiteDriver", "fluent-sqlite-driver"),
                product("FluentPostgresDriver", "fluent-postgres-driver"),
                product("CompressNIO", "compress-nio"),
                product("FluentSQL", "fluent-kit"),
                product("HummingbirdBcrypt", "hummingbird-auth"),
                product("Crypto", "swift-crypto"),
                product("Logging", "swift-log"),
                product("NIOCore", "swift-nio"),
                product("NIOPosix", "swift-nio"),
            ] + (withMariaDB ? ["MariaDB"] : []),
            swiftSettings: strictSettings + (withMariaDB ? [.define("MARIADB")] : [])
        ),
        // The web application (the Waitress + Flask roles).
        .target(
            name: "PortalApp",
            dependencies: [
                "PortalCore",
                "PortalData",
                product("Hummingbird", "hummingbird"),
                product("HummingbirdCore", "hummingbird"),
                product("HummingbirdBcrypt", "hummingbird-auth"),
                product("HTTPTypes", "swift-http-types"),
                product("Crypto", "swift-crypto"),
                product("Mustache", "swift-mustache"),
                product("FluentKit", "fluent-kit"),
                product("Logging", "swift-log"),
                product("NIOCore", "swift-nio"),
                product("NIOPosix", "swift-nio"),
                product("ServiceLifecycle", "swift-service-lifecycle"),
                product("JWTKit", "jwt-kit"),
                product("AsyncHTTPClient", "async-http-client"),
            ],
            swiftSettings: strictSettings
        ),
        // The one command.
        .executableTarget(
            name: "portal",
            dependencies: [
                "PortalCore",
                "Edge",
                "PortalData",
                "PortalApp",
                product("ArgumentParser", "swift-argument-parser"),
                product("Logging", "swift-log"),
                product("NIOCore", "swift-nio"),
                product("NIOPosix", "swift-nio"),
                product("ServiceLifecycle", "swift-service-lifecycle"),
                product("UnixSignals", "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // Fixtures shared by the test targets.
        .target(
            name: "PortalTestSupport",
            dependencies: [
                "PortalCore",
                "PortalData",
                product("FluentKit", "fluent-kit"),
                product("SQLKit", "sql-kit"),
                product("Logging", "swift-log"),
                product("NIOCore", "swift-nio"),
                product("NIOPosix", "swift-nio"),
                product("NIOHTTP1", "swift-nio"),
                product("NIOSSL", "swift-nio-ssl"),
            ],
            path: "Tests/PortalTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "PortalCoreTests",
            dependencies: ["PortalCore", "PortalTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "EdgeTests",
            dependencies: [
                "Edge", "PortalCore", "PortalTestSupport",
                product("NIOCore", "swift-nio"),
                product("NIOPosix", "swift-nio"),
                product("NIOHTTP1", "swift-nio"),
                product("NIOEmbedded", "swift-nio"),
                product("NIOSSL", "swift-nio-ssl"),
                product("X509", "swift-certificates"),
                product("SwiftASN1", "swift-asn1"),
                product("Crypto", "swift-crypto"),
                product("CompressNIO", "compress-nio"),
                product("FluentSQL", "fluent-kit"),
                product("HummingbirdBcrypt", "hummingbird-auth"),
                product("NIOHTTP2", "swift-nio-http2"),
                product("NIOHPACK", "swift-nio-http2"),
                product("Logging", "swift-log"),
                product("ServiceLifecycle", "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "PortalAppTests",
            dependencies: [
                "PortalApp", "PortalData", "PortalCore", "PortalTestSupport",
                product("Hummingbird", "hummingbird"),
                product("HummingbirdTesting", "hummingbird"),
                product("HTTPTypes", "swift-http-types"),
                product("FluentKit", "fluent-kit"),
                product("Logging", "swift-log"),
                product("JWTKit", "jwt-kit"),
                product("Crypto", "swift-crypto"),
                product("CryptoExtras", "swift-crypto"),
                product("SQLKit", "sql-kit"),
                product("NIOCore", "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "PortalData", "PortalCore", "PortalTestSupport",
                product("FluentKit", "fluent-kit"),
                product("NIOCore", "swift-nio"),
                product("NIOHTTP1", "swift-nio"),
                product("Logging", "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
    ] + (withMariaDB ? [
        .systemLibrary(name: "CMariaDB", pkgConfig: "libmariadb", providers: [.apt(["libmariadb-dev"])]),
        // A small driver over the C connector: prepared statements only, blocking calls kept
        // on the caller's thread (the data layer runs them on NIO's thread pool).
        .target(name: "MariaDB", dependencies: ["CMariaDB"], swiftSettings: strictSettings),
        .testTarget(name: "MariaDBTests", dependencies: ["MariaDB", "PortalTestSupport"], swiftSettings: strictSettings),
    ] : [])
)
