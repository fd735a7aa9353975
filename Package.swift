// swift-tools-version:6.2
import PackageDescription

/// Every target: Swift 6 language mode (strict concurrency), explicit `any`, internal imports.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

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
    ],
    targets: [
        // Domain values, settings, errors and the control protocol's shapes. No I/O but reading settings.
        .target(
            name: "QBSyncCore",
            dependencies: [
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        // The SQLite store: migrations and repositories.
        .target(
            name: "QBSyncStore",
            dependencies: [
                "QBSyncCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        // The Intuit client: OAuth2 token/revoke and the Accounting API, with Intuit's answers classified.
        .target(
            name: "QBOClient",
            dependencies: [
                "QBSyncCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        // libsystemd (sd_notify, sd_listen_fds_with_names, sd_journal_sendv).
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // sd_notify, socket activation and the journald log handler.
        .target(
            name: "SystemdSupport",
            dependencies: ["CSystemd", .product(name: "Logging", package: "swift-log")],
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        // The daemon's services, the control server and the JSON-RPC handlers.
        .target(
            name: "QBSyncDaemon",
            dependencies: [
                "QBSyncCore",
                "QBSyncStore",
                "QBOClient",
                "SystemdSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        // The client side of the control protocol (qbctl, tests, benchmarks).
        .target(
            name: "QBControlClient",
            dependencies: [
                "QBSyncCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        // qbo-sim: a faithful stand-in for Intuit (OAuth2, Accounting API, throttling, webhooks, faults).
        .target(
            name: "QBOSimulator",
            dependencies: [
                "QBSyncCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["README.md"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "qbo-sim",
            dependencies: [
                "QBOSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "qbsyncd",
            dependencies: [
                "QBSyncDaemon",
                "SystemdSupport",
                "QBSyncCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "qbctl",
            dependencies: [
                "QBControlClient",
                "QBSyncCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "qbsync-bench",
            dependencies: [
                "QBSyncCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "QBTestSupport",
            dependencies: [
                "QBControlClient", "QBSyncCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            path: "Tests/QBTestSupport",
            swiftSettings: strict
        ),
        // Intuit's answers: the real payloads of shared/reference/intuit-samples through the client's decoders.
        .testTarget(
            name: "QBOClientTests",
            dependencies: ["QBOClient", "QBSyncCore"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "QBSyncCoreTests",
            dependencies: ["QBSyncCore", "QBTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "QBSyncStoreTests",
            dependencies: [
                "QBSyncStore", "QBSyncCore", "QBTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "QBSyncDaemonTests",
            dependencies: [
                "QBSyncDaemon", "QBSyncCore", "QBSyncStore", "QBTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Unit tests of the simulator's pure parts and contract tests against the running qbo-sim binary.
        .testTarget(
            name: "QBOSimulatorTests",
            dependencies: [
                "QBOSimulator", "QBSyncCore", "QBTestSupport", "qbo-sim",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Starts the real binaries; depends on them so `swift test` builds them first.
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "QBTestSupport", "QBControlClient", "QBSyncCore", "QBSyncStore", "qbsyncd", "qbctl", "qbo-sim",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The campaigns of issue 9 (crash, faults, bad input, hostile environment, access, soak):
        // short by default, long with QBSYNC_CAMPAIGN=long (scripts/reliability.sh).
        .testTarget(
            name: "ReliabilityTests",
            dependencies: [
                "QBTestSupport", "QBControlClient", "QBSyncCore", "QBOSimulator", "qbsyncd", "qbctl", "qbo-sim",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
    ]
)
