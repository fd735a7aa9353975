// swift-tools-version: 6.2
// libFuzzer targets for the parsers that untrusted bytes reach first. Built apart from the main
// package, because every module must carry `-sanitize=fuzzer`: see scripts/fuzz.sh.
import PackageDescription

let targets = ["FuzzRPCEnvelope", "FuzzWebhookPayload", "FuzzEnvironmentFile"]

let package = Package(
    name: "qbsyncd-fuzz",
    platforms: [.macOS(.v15)],
    products: targets.map { .executable(name: $0, targets: [$0]) },
    dependencies: [.package(name: "qbsyncd", path: "..")],
    targets: [.target(name: "FuzzDriver")]
        + targets.map { .executableTarget(name: $0, dependencies: ["FuzzDriver", .product(name: "QBSyncCore", package: "qbsyncd")]) }
)
