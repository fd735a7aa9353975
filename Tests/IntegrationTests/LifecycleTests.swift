import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Synchronization
import Testing

/// Start-up, signals and settings of the real `qbsyncd` binary.
@Suite(.timeLimit(.minutes(2))) struct LifecycleTests {
    @Test func sigtermDuringTrafficAnswersWhatWasReadAndExitsZero() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanUp() }
        try await daemon.start()
        let progress = Counter()
        let clients = 8
        let results = try await withThrowingTaskGroup(of: (sent: Int, received: Int).self) { group in
            for _ in 0..<clients {
                group.addTask {
                    let connection = try await ControlConnection.connect(path: daemon.socketPath)
                    var lines = connection.lines.makeAsyncIterator()
                    var sent = 0
                    var received = 0
                    func check(_ line: Data) throws {
                        let response = try JSONDecoder().decode(JSONValue.self, from: line)
                        #expect(response["id"] == .int(Int64(received)), "answers arrive whole and in order")
                        #expect(response["result"] != nil)
                        received += 1
                        progress.value.add(1, ordering: .relaxed)
                    }
                    sending: while true {
                        let batch = (sent..<sent + 5).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"daemon.status"}"# + "\n" }.joined()
                        do { try await connection.send(batch) } catch { break sending }
                        sent += 5
                        for _ in 0..<5 {
                            guard let line = try await lines.next() else { break sending }
                            try check(line)
                        }
                    }
                    while let line = try await lines.next() { try check(line) }
                    return (sent, received)
                }
            }
            // Generous: the suite's other daemons (and on PostgreSQL, the server) load both cores.
            _ = try await eventually(timeout: .seconds(30), "traffic flowing") { progress.value.load(ordering: .relaxed) >= clients * 50 ? true : nil }
            daemon.signal(SIGTERM)
            var all: [(Int, Int)] = []
            for try await result in group { all.append(result) }
            return all
        }
        #expect(try await daemon.waitForExit() == 0)
        #expect(results.map { $0.1 }.reduce(0, +) >= clients * 50)
        for (sent, received) in results {
            #expect(received > 0)
            #expect(received <= sent)
        }
        #expect(!FileManager.default.fileExists(atPath: daemon.socketPath), "the socket file is removed")
        #expect(daemon.log.contains("qbsyncd stopped"))
    }

    /// A SIGTERM that comes while the daemon is still starting (here, while another process holds
    /// its database's write lock) is not met by the signal's default action: the daemon finishes
    /// starting, then stops gracefully and exits 0. CI once saw a stop sent as soon as the control
    /// socket answered kill the daemon before its services ran.
    @Test(.enabled(if: !TestBackend.isPostgres, "another process holds the SQLite database's lock"))
    func aSigtermDuringStartUpIsAGracefulStop() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanUp() }
        try await daemon.start()
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)

        let lock = try SQLiteWriteLock(database: daemon.stateDirectory + "/qbsyncd.sqlite")
        defer { lock.release() }
        try await daemon.start(waitUntilAnswering: false)
        // The daemon gives up on a database locked for 5 s (exit 78), so the stop and the release
        // must follow its start promptly. They come from a thread of its own, not a task: with the
        // suite's other tests busy on the cooperative pool, a task once noticed the start 5 s late.
        let startSeen = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                if daemon.log.components(separatedBy: "qbsyncd starting").count > 2 {
                    startSeen.signal()
                    break
                }
                usleep(2_000)  // the poll's pause, not a guess at how long the start takes
            }
            daemon.signal(SIGTERM)
            lock.release()
        }
        #expect(try await daemon.waitForExit() == 0, "\(daemon.log.suffix(1_500))")
        #expect(startSeen.wait(timeout: .now()) == .success, "the second start logged")
        #expect(!daemon.log.contains("internal error"))
    }

    @Test func sighupAppliesAValidFileAndKeepsTheOldSettingsOnABadOne() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanUp() }
        try await daemon.start()
        let client = try await daemon.connect()
        #expect(try await client.call(DaemonStatusCall.self).integration.enabled == false)

        try """
            QUICKBOOKS_CLIENT_ID=client
            QUICKBOOKS_CLIENT_SECRET=reload-secret-value
            QUICKBOOKS_REDIRECT_URI=https://app.example.com/callback
            QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN=verifier
            """.write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        _ = try await eventually("the reload applied") {
            try await client.call(DaemonStatusCall.self).integration.enabled == true ? true : nil
        }
        // QBO methods now pass the integration gate: a consent URL with the reloaded client id.
        let begun = try await client.call(OAuthBeginCall.self, OrgParams(org: .test("acme")))
        #expect(begun.authorizeUrl.contains("client_id=client"))

        try "QBSYNCD_LOG_LEVEL=loud\nnot an assignment\n".write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        let config = try await eventually("the bad reload recorded") { () -> DaemonStatus.Config? in
            let config = try await client.call(DaemonStatusCall.self).config
            return config.lastReloadError == nil ? nil : config
        }
        #expect(config.reloads == 1, "only the good reload counts")
        #expect(try await client.call(DaemonStatusCall.self).integration.enabled == true, "the old settings stay")
        #expect(daemon.log.contains("settings reload refused"))
        #expect(!daemon.log.contains("reload-secret-value"), "secrets never reach the log")
        #expect(daemon.isRunning)
        await client.close()
    }

    @Test func aStaleSocketIsReplacedAndALiveOneRefused() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanUp() }
        // Given a socket file left by a crashed daemon (bound, never listening, never removed)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(daemon.socketPath.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        close(fd)
        #expect(FileManager.default.fileExists(atPath: daemon.socketPath))

        // When the daemon starts, it replaces it
        try await daemon.start()
        #expect(daemon.log.contains("replaced a stale control socket"))

        // And a second daemon on the live socket refuses to start
        var environment = daemon.environment
        environment["QBSYNCD_STATE_DIR"] = try daemon.directory.makeDirectory("second-state")
        let second = try await runCommand(Binaries.qbsyncd, [], environment: environment)
        #expect(second.status == 78)
        #expect(second.stderr.contains("another qbsyncd is already listening on \(daemon.socketPath)"))
        #expect(try await daemon.connect().call(DaemonStatusCall.self).version.isEmpty == false, "the first daemon is untouched")
    }

    /// F15: grants belong to one environment; a start in the other one would send every org to reconnect.
    @Test func aStartInTheOtherEnvironmentIsRefusedWhileOrgsHoldGrantsOfThisOne() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        pair.daemon.signal(SIGTERM)
        #expect(try await pair.daemon.waitForExit() == 0)

        // When it starts again with the other environment, it refuses, names the org, and changes nothing
        let production = pair.daemon.environment.merging(["QUICKBOOKS_ENVIRONMENT": "production"]) { _, new in new }
        let refused = try await runCommand(Binaries.qbsyncd, [], environment: production)
        #expect(refused.status == 78)
        #expect(refused.stderr.contains("QUICKBOOKS_ENVIRONMENT is production") && refused.stderr.contains("acme"), "\(refused.stderr.suffix(400))")

        // Then started as before, acme is still connected
        try await pair.daemon.start()
        #expect(try await pair.daemon.connect().call(OrgShowCall.self, OrgParams(org: .test("acme"))).status.rawValue == "connected")
    }

    @Test func aMissingStateDirectoryStopsStartUpWithAClearMessage() async throws {
        let daemon = try DaemonProcess(extraEnvironment: ["QBSYNCD_STATE_DIR": "/nonexistent/qbsyncd-state"])
        defer { daemon.directory.remove() }
        let result = try await runCommand(Binaries.qbsyncd, [], environment: daemon.environment)
        #expect(result.status == 78)
        #expect(result.stderr.contains("the state directory /nonexistent/qbsyncd-state does not exist"))
    }

    @Test func checkConfigPrintsOneLinePerProblem() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let config = try directory.write("bad.conf", "QBSYNCD_LOG_LEVEL=loud\nQBSYNCD_TYPO=1\n")
        let bad = try await runCommand(
            Binaries.qbsyncd, ["--check-config"],
            environment: ["QBSYNCD_CONFIG": config, "QBSYNCD_STATE_DIR": directory.path, "QBSYNCD_REFRESH_MARGIN": "x"]
        )
        #expect(bad.status == 1)
        let lines = bad.stderr.split(separator: "\n")
        #expect(lines.count == 3, "\(bad.stderr)")
        #expect(lines.contains { $0.contains("QBSYNCD_LOG_LEVEL") })
        #expect(lines.contains { $0.contains("QBSYNCD_TYPO is not a known setting") })
        #expect(lines.contains { $0.contains("QBSYNCD_REFRESH_MARGIN") })

        let good = try directory.write("good.conf", "QUICKBOOKS_CLIENT_SECRET=check-secret-value\n")
        let ok = try await runCommand(
            Binaries.qbsyncd, ["--check-config"],
            environment: ["QBSYNCD_CONFIG": good, "QBSYNCD_STATE_DIR": directory.path, "QBSYNCD_CONTROL_SOCKET": directory.file("c.sock")]
        )
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("QUICKBOOKS_CLIENT_SECRET=<redacted>"))
        #expect(!ok.stdout.contains("check-secret-value"))

        let version = try await runCommand(Binaries.qbsyncd, ["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == QBSyncVersion.current)
    }
}

/// A shared counter that closures can capture (`Atomic` itself cannot be copied into one).
final class Counter: Sendable {
    let value = Atomic<Int>(0)
}

/// `QBSYNCD_DATABASE_URL` at start: a database that cannot be reached stops the start within a
/// bounded time, and neither that message nor `--check-config` shows the password.
@Suite(.timeLimit(.minutes(3))) struct DatabaseURLStartTests {
    static let unreachable = "postgres://qbsyncd:url-password-never-shown@127.0.0.1:1/qbsyncd?sslmode=disable"

    @Test func anUnreachableDatabaseStopsStartUpWithAClearMessage() async throws {
        let daemon = try DaemonProcess(extraEnvironment: ["QBSYNCD_DATABASE_URL": Self.unreachable])
        defer { daemon.directory.remove() }
        let started = ContinuousClock.now
        let result = try await runCommand(Binaries.qbsyncd, [], environment: daemon.environment)
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(result.status == 78)
        #expect(result.stderr.contains("QBSYNCD_DATABASE_URL: the PostgreSQL database postgres://qbsyncd:<redacted>@127.0.0.1:1/qbsyncd?sslmode=disable cannot be reached"), "\(result.stderr)")
        #expect(!result.stderr.contains("url-password-never-shown"))
    }

    @Test func checkConfigNamesTheBackend() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.directory.remove() }
        let sqlite = try await runCommand(Binaries.qbsyncd, ["--check-config"], environment: daemon.environment.filter { $0.key != "QBSYNCD_DATABASE_URL" })
        #expect(sqlite.status == 0, "\(sqlite.stderr)")
        #expect(sqlite.stdout.contains("store: embedded SQLite in \(daemon.stateDirectory)"), "\(sqlite.stdout)")
        let postgres = try await runCommand(
            Binaries.qbsyncd, ["--check-config"], environment: daemon.environment.merging(["QBSYNCD_DATABASE_URL": Self.unreachable]) { _, new in new }
        )
        #expect(postgres.status == 0, "\(postgres.stderr)")
        #expect(postgres.stdout.contains("store: PostgreSQL postgres://qbsyncd:<redacted>@127.0.0.1:1/qbsyncd?sslmode=disable (QBSYNCD_DATABASE_URL)"), "\(postgres.stdout)")
        #expect(!postgres.stdout.contains("url-password-never-shown"))
    }
}
