// swift-tools-version:6.2
import PackageDescription

/// Every target: Swift 6 language mode (strict concurrency), explicit `any`, internal imports.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// The products of the package's dependencies that targets name, each spelled once.
enum P {
    static let configuration = Target.Dependency.product(name: "Configuration", package: "swift-configuration")
    static let system = Target.Dependency.product(name: "SystemPackage", package: "swift-system")
    static let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
    static let grdb = Target.Dependency.product(name: "GRDB", package: "GRDB.swift")
    static let crypto = Target.Dependency.product(name: "Crypto", package: "swift-crypto")
    static let postgres = Target.Dependency.product(name: "PostgresNIO", package: "postgres-nio")
    static let lifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
    static let unixSignals = Target.Dependency.product(name: "UnixSignals", package: "swift-service-lifecycle")
    static let httpClient = Target.Dependency.product(name: "AsyncHTTPClient", package: "async-http-client")
    static let deque = Target.Dependency.product(name: "DequeModule", package: "swift-collections")
    static let heap = Target.Dependency.product(name: "HeapModule", package: "swift-collections")
    static let nioCore = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
    static let nioHTTP1 = Target.Dependency.product(name: "NIOHTTP1", package: "swift-nio")
    static let nioPosix = Target.Dependency.product(name: "NIOPosix", package: "swift-nio")
    static let nioFoundation = Target.Dependency.product(name: "NIOFoundationCompat", package: "swift-nio")
    static let nioEmbedded = Target.Dependency.product(name: "NIOEmbedded", package: "swift-nio")
    static let nioConcurrency = Target.Dependency.product(name: "NIOConcurrencyHelpers", package: "swift-nio")
    static let nioExtras = Target.Dependency.product(name: "NIOExtras", package: "swift-nio-extras")
    static let prometheus = Target.Dependency.product(name: "Prometheus", package: "swift-prometheus")
    static let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
}

/// A library target: strict settings, and its README.md (what it owns, what it may import) beside its sources.
func library(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .target(name: name, dependencies: dependencies, exclude: ["README.md"], swiftSettings: strict)
}

let package = Package(
    name: "qbsyncd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "qbsyncd", targets: ["qbsyncd"]),
        // For the libFuzzer package in Fuzz/ (its parsers are what untrusted bytes reach first).
        .library(name: "QBSyncCore", targets: ["QBSyncCore"]),
        .executable(name: "qbctl", targets: ["qbctl"]),
        .executable(name: "qbsync-bench", targets: ["qbsync-bench"]),
        .executable(name: "qbo-sim", targets: ["qbo-sim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // Domain values, settings, errors and the control protocol's shapes. No I/O but reading settings.
        library("QBSyncCore", [P.configuration, P.system, P.logging]),
        // The SQLite store: migrations and repositories.
        library("QBSyncStore", ["QBSyncCore", P.grdb, P.crypto, P.logging]),
        // The PostgreSQL store (issue 18): the same schema and guarantees as QBSyncStore, shared by instances.
        library("QBSyncStorePostgres", ["QBSyncCore", "QBSyncStore", P.postgres, P.grdb, P.crypto, P.logging, P.lifecycle]),
        // The Intuit client: OAuth2 token/revoke and the Accounting API, with Intuit's answers classified.
        library("QBOClient", ["QBSyncCore", P.httpClient, P.deque, P.nioCore, P.nioHTTP1, P.nioPosix, P.nioFoundation, P.logging]),
        // The one small HTTP/1 server (issue 17): the webhook listener and qbo-sim both run on it.
        library("HTTPServerKit", [P.nioCore, P.nioPosix, P.nioHTTP1, P.nioExtras, P.logging, P.lifecycle]),
        // libsystemd (sd_notify, sd_listen_fds_with_names, sd_journal_sendv).
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // sd_notify, socket activation and the journald log handler.
        library("SystemdSupport", ["CSystemd", P.logging]),
        // The daemon's services, the control server and the JSON-RPC handlers.
        library("QBSyncDaemon", [
            "QBSyncCore", "QBSyncStore", "QBSyncStorePostgres", "QBOClient", "SystemdSupport", "HTTPServerKit",
            P.httpClient, P.heap, P.deque, P.prometheus, P.crypto, P.nioCore, P.nioPosix, P.nioHTTP1, P.nioFoundation,
            P.logging, P.lifecycle, P.unixSignals,
        ]),
        // The client side of the control protocol (qbctl, tests, benchmarks).
        library("QBControlClient", ["QBSyncCore", P.nioCore, P.nioPosix, P.nioFoundation]),
        // qbo-sim: a faithful stand-in for Intuit (OAuth2, Accounting API, throttling, webhooks, faults).
        library("QBOSimulator", [
            "QBSyncCore", "HTTPServerKit", P.nioCore, P.nioPosix, P.nioHTTP1, P.nioFoundation, P.crypto, P.httpClient, P.logging, P.lifecycle,
        ]),
        .executableTarget(name: "qbo-sim", dependencies: [
            "QBOSimulator", P.argumentParser, P.logging, P.lifecycle,
        ], swiftSettings: strict),
        .executableTarget(name: "qbsyncd", dependencies: [
            "QBSyncDaemon", "SystemdSupport", "QBSyncCore", P.argumentParser, P.logging,
        ], swiftSettings: strict),
        .executableTarget(name: "qbctl", dependencies: ["QBControlClient", "QBSyncCore", P.argumentParser], swiftSettings: strict),
        .executableTarget(name: "qbsync-bench", dependencies: ["QBSyncCore", P.argumentParser, P.heap], swiftSettings: strict),
        .target(
            name: "QBTestSupport",
            dependencies: ["QBControlClient", "QBSyncCore", P.httpClient, P.nioCore, P.nioHTTP1, P.nioFoundation],
            path: "Tests/QBTestSupport",
            swiftSettings: strict
        ),
        // Intuit's answers: the real payloads of shared/reference/intuit-samples through the client's decoders.
        .testTarget(name: "QBOClientTests", dependencies: [
            "QBOClient", "QBSyncCore", P.httpClient, P.nioCore, P.nioPosix, P.nioHTTP1, P.logging,
        ], swiftSettings: strict),
        .testTarget(name: "QBSyncCoreTests", dependencies: ["QBSyncCore", "QBTestSupport"], swiftSettings: strict),
        .testTarget(name: "QBSyncStoreTests", dependencies: [
            "QBSyncStore", "QBSyncCore", "QBTestSupport", P.grdb, P.logging,
        ], swiftSettings: strict),
        .testTarget(name: "QBSyncDaemonTests", dependencies: [
            "QBSyncDaemon", "QBSyncCore", "QBSyncStore", "QBSyncStorePostgres", "QBOClient", "HTTPServerKit", "QBTestSupport", P.httpClient, P.nioCore,
            P.nioEmbedded, P.nioPosix, P.nioHTTP1, P.postgres, P.logging,
        ], swiftSettings: strict),
        // The HTTP kit over real sockets: keep-alive, body limit, quiescing.
        .testTarget(name: "HTTPServerKitTests", dependencies: [
            "HTTPServerKit", "QBTestSupport", P.nioCore, P.nioPosix, P.nioHTTP1, P.logging,
        ], swiftSettings: strict),
        // Unit tests of the simulator's pure parts and contract tests against the running qbo-sim binary.
        .testTarget(name: "QBOSimulatorTests", dependencies: [
            "QBOSimulator", "QBSyncCore", "QBTestSupport", "qbo-sim", P.httpClient, P.crypto, P.nioCore, P.nioFoundation,
        ], swiftSettings: strict),
        // Against a real PostgreSQL (scripts/pg-cluster.sh start): enabled when QBSYNCD_TEST_DATABASE_URL is set.
        .testTarget(name: "QBSyncStorePostgresTests", dependencies: [
            "QBSyncStorePostgres", "QBSyncStore", "QBSyncCore", "QBTestSupport", P.postgres, P.grdb, P.logging,
        ], swiftSettings: strict),
        // Starts the real binaries; depends on them so `swift test` builds them first.
        .testTarget(name: "IntegrationTests", dependencies: [
            "QBTestSupport", "QBControlClient", "QBSyncCore", "QBSyncStore", "QBSyncStorePostgres", "qbsyncd", "qbctl", "qbo-sim", P.logging, P.postgres,
        ], swiftSettings: strict),
        // The campaigns of issue 9 (crash, faults, bad input, hostile environment, access, soak):
        // short by default, long with QBSYNC_CAMPAIGN=long (scripts/reliability.sh).
        .testTarget(name: "ReliabilityTests", dependencies: [
            "QBTestSupport", "QBControlClient", "QBSyncCore", "QBOSimulator", "qbsyncd", "qbctl", "qbo-sim",
            P.grdb, P.crypto, P.nioCore, P.nioPosix, P.nioConcurrency,
        ], swiftSettings: strict),
    ]
)
