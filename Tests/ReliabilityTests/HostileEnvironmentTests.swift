import Foundation
import GRDB
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// A full disk, a read-only state directory, a damaged database, a wrong token key and an
/// unreachable Intuit: clear errors, 503 from /healthz where it applies, nothing acknowledged
/// lost, and recovery once the cause is gone.
@Suite(.serialized, .timeLimit(.minutes(10))) struct HostileEnvironmentTests {
    static let isRoot = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/mount")

    /// A small tmpfs on the daemon's state directory, so the test can fill it or make it read-only.
    static func mountSmallFilesystem(on path: String, megabytes: Int) async throws {
        let result = try await runCommand("/usr/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m,mode=0700", "tmpfs", path])
        #expect(result.status == 0, "\(result.stderr)")
    }

    static func unmount(_ path: String) {
        // Synchronous, for `defer`: lazy, so a daemon still holding files cannot keep it mounted.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/umount")
        process.arguments = ["-l", path]
        try? process.run()
    }

    /// Deliveries with ~20 KB bodies (so a few hundred fill a small disk), each unique.
    static func delivery(_ n: Int) -> String {
        #"{"eventNotifications":[{"realmId":"4620816365000000000","dataChangeEvent":{"entities":[{"name":"Invoice","id":"\#(n)","operation":"Update","lastUpdated":"2026-11-25T10:00:00.000Z"}]}}],"pad":"\#(String(repeating: "p", count: 20_000))"}"#
    }

    func storedBodies(_ fleet: Fleet) async throws -> Set<String> {
        Set(try await fleet.database().read { db in try Data.fetchAll(db, sql: "SELECT body FROM qb_webhook_deliveries") }.map { String(decoding: $0, as: UTF8.self) })
    }

    @Test(.enabled(if: isRoot)) func aFullDiskRefusesDeliveriesLosesNoneAndRecovers() async throws {
        let sim = try SimulatorProcess()
        try await sim.start()
        let daemon = try DaemonProcess.pointed(at: sim, extraEnvironment: ["QBSYNCD_WEBHOOK_LISTEN": "127.0.0.1:\(try freeTCPPort())", "QBSYNCD_LOG_LEVEL": "info"])
        try await Self.mountSmallFilesystem(on: daemon.stateDirectory, megabytes: 12)
        defer {
            daemon.signal(SIGKILL)
            Self.unmount(daemon.stateDirectory)
            daemon.cleanUp()
            sim.cleanUp()
        }
        try await daemon.start()
        let fleet = Fleet(pair: Pair(sim: sim, daemon: daemon, http: SimClient(base: sim.baseURL), control: try await daemon.connect()), webhookBase: "http://" + (try await daemon.connect().call(DaemonStatusCall.self).webhook.listen), orgs: [])
        #expect(try await fleet.hook.get("/healthz").status == 200)

        var acknowledged: [String] = []
        for n in 0..<20 {
            let body = Self.delivery(-1 - n)
            #expect(try await fleet.deliver(body) == 200)
            acknowledged.append(body)
        }
        // Fill the disk, then keep delivering: each delivery is 200 and stored, or 503 and not.
        let filler = daemon.stateDirectory + "/filler"
        _ = try await runCommand("/bin/dd", ["if=/dev/zero", "of=\(filler)", "bs=1M", "count=64"])
        var refused = 0
        for n in 0..<300 {
            let body = Self.delivery(n)
            switch try await fleet.deliver(body) {
            case 200: acknowledged.append(body)
            case 503: refused += 1
            case let other: Issue.record("a delivery on a full disk answered \(other)")
            }
        }
        #expect(refused > 0, "a full disk refuses deliveries")
        #expect(try await fleet.hook.get("/healthz").status == 503, "/healthz tells the disk is full")
        #expect(try await fleet.control().call(DaemonStatusCall.self).version.isEmpty == false, "reads still answer")
        #expect(daemon.log.contains("not stored") || daemon.log.contains("full"), "the log says why")

        // Room again: the daemon recovers by itself, and nothing it acknowledged is missing.
        try FileManager.default.removeItem(atPath: filler)
        _ = try await eventually(timeout: .seconds(20), "/healthz 200 again") { try await fleet.hook.get("/healthz").status == 200 ? true : nil }
        let after = Self.delivery(1_000_000)
        #expect(try await fleet.deliver(after) == 200)
        acknowledged.append(after)
        let stored = try await storedBodies(fleet)
        #expect(acknowledged.allSatisfy(stored.contains), "every acknowledged delivery is in the log")
        #expect(try fleet.integrityCheck() == "ok")
        Campaign.report(
            "Hostile environment: full disk",
            ["12 MiB state filesystem filled: 20 deliveries stored before; then \(refused) of 300 refused with 503 (Intuit delivers again) and \(acknowledged.count - 21) acknowledged, every acknowledged one stored; /healthz 503 while full, 200 again after space returned; integrity ok"]
        )
    }

    /// Enough settings for the integration to be on; nothing here calls Intuit.
    static let integration = [
        "QUICKBOOKS_CLIENT_ID": "id", "QUICKBOOKS_CLIENT_SECRET": "secret", "QUICKBOOKS_REDIRECT_URI": SimulatorProcess.redirectURI,
        "QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN": SimulatorProcess.verifierToken,
    ]

    @Test(.enabled(if: isRoot)) func aReadOnlyStateDirectoryStopsTheStartAndLosesNothing() async throws {
        let daemon = try DaemonProcess(extraEnvironment: Self.integration)
        try await Self.mountSmallFilesystem(on: daemon.stateDirectory, megabytes: 32)
        defer {
            daemon.signal(SIGKILL)
            Self.unmount(daemon.stateDirectory)
            daemon.cleanUp()
        }
        try await daemon.start()
        let begun = try await daemon.connect().call(OAuthBeginCall.self, OrgParams(org: .test("acme")))
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
        let database = try Data(contentsOf: URL(fileURLWithPath: daemon.stateDirectory + "/qbsyncd.sqlite"))

        // Read-only (a mistaken mount, or a filesystem the kernel made read-only after errors).
        let remount = try await runCommand("/usr/bin/mount", ["-o", "remount,ro", daemon.stateDirectory])
        #expect(remount.status == 0, "\(remount.stderr)")
        let refused = try await Self.startExpectingFailure(daemon.environment)
        #expect(refused.status == 78)
        #expect(refused.stderr.contains(daemon.stateDirectory) && refused.stderr.contains("Read-only file system"), "\(refused.stderr.suffix(400))")
        #expect(try Data(contentsOf: URL(fileURLWithPath: daemon.stateDirectory + "/qbsyncd.sqlite")) == database)

        // Writable again: the daemon starts with what it had (the OAuth state still completes the flow's first half).
        #expect(try await runCommand("/usr/bin/mount", ["-o", "remount,rw", daemon.stateDirectory]).status == 0)
        try await daemon.start()
        #expect(!begun.state.isEmpty)
        #expect(try await daemon.connect().call(DaemonStatusCall.self).version.isEmpty == false)
        Campaign.report("Hostile environment: read-only state directory", ["start refused (exit 78): \(refused.stderr.split(separator: "\n").last.map(String.init)?.suffix(220) ?? "")", "database unchanged; after remounting rw the daemon started with its data"])
    }

    /// Runs qbsyncd expecting it to refuse to start; a daemon that starts anyway is killed after 20 s.
    static func startExpectingFailure(_ environment: [String: String]) async throws -> CommandResult {
        try await runCommand("/usr/bin/timeout", ["-s", "KILL", "20", Binaries.qbsyncd], environment: environment)
    }

    @Test func aDamagedDatabaseIsRefusedAndLeftAsItWas() async throws {
        let daemon = try DaemonProcess(extraEnvironment: Self.integration)
        defer { daemon.cleanUp() }
        try await daemon.start()
        _ = try await daemon.connect().call(OAuthBeginCall.self, OrgParams(org: .test("acme")))
        daemon.signal(SIGTERM)
        let status = try await daemon.waitForExit()
        // The daemon's own words when it did not stop cleanly (its log holds the whole run).
        #expect(status == 0, "exit \(status): \(((try? String(contentsOfFile: daemon.logPath, encoding: .utf8)) ?? "").suffix(1_500))")  // try?: only for the message
        let path = daemon.stateDirectory + "/qbsyncd.sqlite"
        var reasons: [String] = []

        // A damaged page inside the file, then a file that is not SQLite at all.
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        // A stop that checkpointed leaves every page in the file: at least the page damaged below.
        try #require(original.count > 4096 * 3, "the stopped store's file is \(original.count) bytes")
        for damage in ["a page", "the header"] {
            var bytes = original
            let start = damage == "a page" ? 4096 * 2 : 0
            for index in start..<min(bytes.count, start + 4096) { bytes[index] = UInt8(truncatingIfNeeded: index &* 31) }
            try bytes.write(to: URL(fileURLWithPath: path))
            let wal = FileManager.default.contents(atPath: path + "-wal")
            let result = try await Self.startExpectingFailure(daemon.environment)
            #expect(result.status == 78, "\(damage): \(result.stderr.suffix(300))")
            #expect(result.stderr.contains(path) && result.stderr.contains("nothing was changed"), "\(damage): \(result.stderr.suffix(300))")
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes, "\(damage): the damaged file is left as it was")
            #expect(FileManager.default.contents(atPath: path + "-wal") == wal, "\(damage): its WAL is left as it was")
            reasons.append(result.stderr.split(separator: "\n").last.map(String.init) ?? "")
        }
        // The good file back: the daemon starts with its data.
        try original.write(to: URL(fileURLWithPath: path))
        try await daemon.start()
        #expect(try await daemon.connect().call(DaemonStatusCall.self).version.isEmpty == false)
        Campaign.report("Hostile environment: damaged database", reasons.map { "refused (exit 78): \($0.suffix(220))" })
    }

    @Test func tokenKeyProblemsStopTheStartWithTheReason() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        pair.daemon.signal(SIGTERM)
        #expect(try await pair.daemon.waitForExit() == 0)
        let keyPath = pair.daemon.stateDirectory + "/token.key"
        let key = try Data(contentsOf: URL(fileURLWithPath: keyPath))
        var reasons: [String] = []

        func start(_ environment: [String: String] = [:]) async throws -> CommandResult {
            try await Self.startExpectingFailure(pair.daemon.environment.merging(environment) { _, new in new })
        }
        // Missing, wrong-sized, and another key altogether.
        let missing = try await start(["QBSYNCD_TOKEN_KEY_FILE": pair.daemon.directory.file("nowhere.key")])
        #expect(missing.status == 78 && missing.stderr.contains("nowhere.key") && missing.stderr.contains("cannot be read"), "\(missing.stderr.suffix(300))")
        let short = pair.daemon.directory.file("short.key")
        _ = FileManager.default.createFile(atPath: short, contents: Data(repeating: 7, count: 16), attributes: [.posixPermissions: 0o600])
        let wrongSize = try await start(["QBSYNCD_TOKEN_KEY_FILE": short])
        #expect(wrongSize.status == 78 && wrongSize.stderr.contains("not 32 bytes"), "\(wrongSize.stderr.suffix(300))")
        let other = pair.daemon.directory.file("other.key")
        _ = FileManager.default.createFile(atPath: other, contents: Data((0..<32).map { UInt8($0) }), attributes: [.posixPermissions: 0o600])
        let wrongKey = try await start(["QBSYNCD_TOKEN_KEY_FILE": other])
        #expect(wrongKey.status == 78 && wrongKey.stderr.contains("does not open the stored tokens of 1 of 1 orgs (acme)"), "\(wrongKey.stderr.suffix(400))")
        reasons = [missing, wrongSize, wrongKey].map { $0.stderr.split(separator: "\n").last.map(String.init) ?? "" }

        // Nothing was changed: with its own key the daemon starts and acme still reaches QuickBooks.
        #expect(try Data(contentsOf: URL(fileURLWithPath: keyPath)) == key)
        try await pair.daemon.start()
        #expect(try await pair.daemon.connect().call(OrgTestCall.self, OrgParams(org: .test("acme"))).ok == true)
        Campaign.report("Hostile environment: token key", reasons.map { "refused (exit 78): \($0.suffix(260))" })
    }

    @Test func anUnreachableIntuitIsReportedAndRecoveredFrom() async throws {
        let port = try freeTCPPort()
        let sim = try SimulatorProcess()
        let simState = sim.directory.file("sim-state.json")
        try await sim.start(statePath: simState, listen: "127.0.0.1:\(port)")
        let daemon = try DaemonProcess.pointed(at: sim, extraEnvironment: ["QUICKBOOKS_TIMEOUT": "3"])
        try await daemon.start()
        let pair = Pair(sim: sim, daemon: daemon, http: SimClient(base: sim.baseURL), control: try await daemon.connect())
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: Fleet.developmentInput("dev-1")))

        // Intuit goes away (the simulator stops; its state is saved).
        #expect(try await sim.stop() == 0)
        var answers: [String] = []
        for (method, params) in [("org.test", ["org": "acme"] as JSONValue), ("customer.sync", ["org": "acme", "development": Fleet.development("dev-2")])] {
            do {
                _ = try await pair.control.call(method, params: params)
                Issue.record("\(method) succeeded with Intuit unreachable")
            } catch {
                #expect(rpcReason(error) == "qbo_unavailable", "\(method): \(error)")
                answers.append("\(method): \(error.rpcError?.message ?? "\(error)")")
            }
        }
        await #expect(throws: ControlClientError.self) { try await pair.control.call(TokenRefreshCall.self, OrgParams(org: .test("acme"))) }
        #expect(try await pair.control.call(OrgShowCall.self, OrgParams(org: .test("acme"))).status.rawValue == "connected", "an outage is not a reason to reconnect")
        let listen = try await pair.control.call(DaemonStatusCall.self).webhook.listen
        #expect(try await SimClient(base: "http://\(listen)").get("/healthz").status == 200, "the daemon itself is healthy")

        // Intuit is back: the same calls work, with the same connection.
        try await sim.start(statePath: simState, listen: "127.0.0.1:\(port)")
        #expect(try await retrying { try await pair.control.call(OrgTestCall.self, OrgParams(org: .test("acme"))) }.ok)
        #expect(try await retrying { try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: Fleet.developmentInput("dev-2"))) }.qboId != nil)
        Campaign.report("Hostile environment: Intuit unreachable", answers.map { "answered qbo_unavailable: \($0.prefix(200))" } + ["org stayed connected; /healthz 200; after Intuit returned, the same calls succeeded without reconnecting"])
    }
}
