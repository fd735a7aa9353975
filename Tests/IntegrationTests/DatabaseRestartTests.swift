import Crypto
import Foundation
import Logging
import PostgresNIO
import QBControlClient
import QBSyncStorePostgres
import QBTestSupport
import Synchronization
import Testing

/// A PostgreSQL restart under webhook load (issue 18, item 4): one daemon on a throw-away cluster of
/// its own (`scripts/pg-cluster.sh`, never the shared one other tests use), a few senders posting
/// distinct signed deliveries without pause, the server stopped (fast shutdown, data kept) for a few
/// seconds and started again on the same data and port. While it is down the daemon answers 503
/// ("not stored; deliver again") and `/healthz` 503; it never answers 200 for a delivery it did not
/// commit, stores none twice, does not exit, and answers 200 again once the server is back, the new
/// deliveries' events extracted.
@Suite(
    // The PostgreSQL pass only (it starts a cluster of its own with scripts/pg-cluster.sh).
    .enabled(
        if: TestBackend.isPostgres && TestBackend.databaseURL != nil,
        "the PostgreSQL pass only (QBSYNCD_TEST_BACKEND=postgres with QBSYNCD_TEST_DATABASE_URL)"
    ),
    .timeLimit(.minutes(3))
)
struct DatabaseRestartTests {
    /// Concurrent senders, each with one delivery in flight.
    static let senders = 4
    /// How long the server stays down at least (the load keeps going meanwhile): longer than the
    /// intake's append limit (5 s), so a delivery waiting for a connection is answered 503 even when
    /// none was mid-statement at the stop (otherwise it may wait out a short outage and get its 200).
    static let minimumOutage: Duration = .seconds(6)
    /// Deliveries acknowledged before the stop, and after the recovery, before the load ends.
    static let acknowledgedBefore = 100
    static let acknowledgedAfter = 100

    // MARK: A throw-away cluster of the test's own

    struct ThrowAwayPostgres: Sendable {
        let directory: String
        /// `postgres://qbsyncd:PASSWORD@127.0.0.1:PORT/qbsyncd?sslmode=disable`: never print it.
        let url: String

        static var script: String {
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("scripts/pg-cluster.sh").path
        }

        static func run(_ command: String, _ directory: String) async throws -> CommandResult {
            try await runCommand("/bin/bash", [script, command, directory])
        }

        /// initdb in a fresh directory of /tmp (short: the Unix socket's path must fit), a free port.
        static func start() async throws -> ThrowAwayPostgres {
            let directory = "/tmp/qbpgr-" + UUID().uuidString.lowercased().prefix(8)
            let result = try await run("start", directory)
            let prefix = "QBSYNCD_TEST_DATABASE_URL="
            guard result.status == 0, let line = result.stdout.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else {
                _ = try? await run("stop", directory)  // try?: the start's failure is the error
                throw DeadlineExceeded(description: "pg-cluster.sh start \(directory) failed (\(result.status)): \(result.stderr)")
            }
            return ThrowAwayPostgres(directory: directory, url: String(line.dropFirst(prefix.count)))
        }

        /// Fast shutdown: the daemon's connections are cut, open transactions roll back; the data stays.
        func stopServer() async throws {
            let result = try await Self.run("stop-server", directory)
            guard result.status == 0 else { throw DeadlineExceeded(description: "pg-cluster.sh stop-server failed (\(result.status)): \(result.stderr)") }
        }

        /// The same data, port and socket.
        func startServer() async throws {
            let result = try await Self.run("start-server", directory)
            guard result.status == 0 else { throw DeadlineExceeded(description: "pg-cluster.sh start-server failed (\(result.status)): \(result.stderr)") }
        }

        /// Stops the server and removes the directory.
        func destroy() async {
            _ = try? await Self.run("stop", directory)  // try?: cleanup; the test's outcome is its own
        }
    }

    // MARK: The load

    enum Phase: Int, Sendable { case before, outage, restarted }

    struct Answer: Sendable {
        var sha: String
        /// The HTTP status, or nil when no answer came (the error in `failure`).
        var status: Int?
        var failure: String?
        var sentAt: ContinuousClock.Instant
        var answeredAt: ContinuousClock.Instant
        var phaseAtSend: Phase
    }

    /// What the senders share: the answers so far, the phase, and when to stop.
    final class Load: Sendable {
        let answers = Mutex<[Answer]>([])
        let phase = Atomic<Int>(Phase.before.rawValue)
        let stopping = Atomic<Bool>(false)
        let run = UUID().uuidString.prefix(8).lowercased()

        var snapshot: [Answer] { answers.withLock { $0 } }

        func body(sender: Int, index: Int) -> String {
            #"{"eventNotifications":[{"realmId":"7340031","dataChangeEvent":{"entities":[{"name":"Invoice","id":"\#(run)-\#(sender)-\#(index)","operation":"Update","lastUpdated":"2026-11-25T10:00:00.000Z"}]}}]}"#
        }

        /// One sender: one delivery in flight at a time, each body distinct. After an answer other
        /// than 200 it waits 50 ms, as Intuit backs off, so the outage's instant 503s do not spin.
        func send(sender: Int, to hook: SimClient) async {
            var index = 0
            while !stopping.load(ordering: .relaxed) && !Task.isCancelled {
                let body = body(sender: sender, index: index)
                index += 1
                let phase = Phase(rawValue: self.phase.load(ordering: .relaxed)) ?? .before
                let sentAt = ContinuousClock.now
                var status: Int?
                var failure: String?
                do {
                    status = try await hook.send(
                        .POST, "/api/webhooks/quickbooks", headers: [("intuit-signature", WebhookTests.sign(body)), ("Content-Type", "application/json")],
                        body: Data(body.utf8)
                    ).status
                } catch {
                    failure = "\(error)"
                }
                let answer = Answer(sha: DatabaseRestartTests.sha(body), status: status, failure: failure, sentAt: sentAt, answeredAt: .now, phaseAtSend: phase)
                answers.withLock { $0.append(answer) }
                if status != 200 { await pause(milliseconds: 50) }
            }
        }
    }

    static func sha(_ body: String) -> String { SHA256.hash(data: Data(body.utf8)).map { String(format: "%02x", $0) }.joined() }

    /// Polls like ``eventually(timeout:_:_:)`` but answers nil at the deadline instead of throwing,
    /// so that the test goes on and reports everything it saw.
    static func poll<T>(timeout: Duration, _ condition: () async throws -> T?) async -> T? {
        try? await eventually(timeout: timeout, "condition", condition)  // try?: nil is the deadline, reported by the caller
    }

    static func healthStatus(_ hook: SimClient) async -> Int? {
        try? await hook.get("/healthz").status  // try?: no answer is reported as nil
    }

    // MARK: The tables, read behind the daemon's back

    /// Every delivery by the SHA-256 of its body: how many rows, and how many events they have.
    static func deliveries(url: String, schema: String) async throws -> [String: (rows: Int, events: Int)] {
        var configuration = try PostgresStoreConfiguration(url: url, schema: schema)
        configuration.maximumConnections = 1
        let client = PostgresClient(configuration: configuration.client, backgroundLogger: TestStore.logger)
        return try await withThrowingTaskGroup(of: Void.self, returning: [String: (rows: Int, events: Int)].self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            var found: [String: (rows: Int, events: Int)] = [:]
            let rows = try await client.query(
                """
                SELECT encode(sha256(d.body), 'hex'), (SELECT COUNT(*) FROM qb_webhook_events e WHERE e.delivery_id = d.id)
                FROM qb_webhook_deliveries d
                """,
                logger: TestStore.logger
            )
            for try await (sha, events) in rows.decode((String, Int64).self) {
                let before = found[sha] ?? (0, 0)
                found[sha] = (before.rows + 1, before.events + Int(events))
            }
            return found
        }
    }

    /// The events' statuses of the deliveries whose bodies have these hashes, counted.
    static func eventStatuses(url: String, schema: String, of shas: Set<String>) async throws -> [String: Int] {
        var configuration = try PostgresStoreConfiguration(url: url, schema: schema)
        configuration.maximumConnections = 1
        let client = PostgresClient(configuration: configuration.client, backgroundLogger: TestStore.logger)
        return try await withThrowingTaskGroup(of: Void.self, returning: [String: Int].self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            var counts: [String: Int] = [:]
            let rows = try await client.query(
                "SELECT encode(sha256(d.body), 'hex'), e.status FROM qb_webhook_events e JOIN qb_webhook_deliveries d ON d.id = e.delivery_id",
                logger: TestStore.logger
            )
            for try await (sha, status) in rows.decode((String, String).self) where shas.contains(sha) { counts[status, default: 0] += 1 }
            return counts
        }
    }

    // MARK: The test

    @Test func aPostgresRestartMidLoadLosesNoAcknowledgedDeliveryAndTheDaemonRecovers() async throws {
        let postgres = try await ThrowAwayPostgres.start()
        do {
            try await runLoad(on: postgres)
        } catch {
            await postgres.destroy()
            throw error
        }
        await postgres.destroy()
    }

    func runLoad(on postgres: ThrowAwayPostgres) async throws {
        let schema = "it_restart"
        // A 5 s operation deadline (30 s by default): a query stuck on a connection whose session died
        // with the server is cut within 10 s, well inside the polls below.
        let database = (schema: schema, url: postgres.url + "&schema=\(schema)&pool_max_conns=4&operation_timeout=5")
        let sim = try SimulatorProcess()
        defer { sim.cleanUp() }
        try await sim.start()
        let daemon = try DaemonProcess.pointed(at: sim, database: database)
        defer { daemon.cleanUp() }
        try await daemon.start()
        let hook = try await FailoverTests.listener(daemon)
        #expect(await Self.healthStatus(hook) == 200, "healthy before the outage")

        let load = Load()
        let clock = ContinuousClock()
        let begun = clock.now
        var stopIssued = begun, stopped = begun, startIssued = begun, started = begun
        var healthDuringOutage: Int?
        var healthAfter: Int?
        var recoveredAt: ContinuousClock.Instant?

        try await withThrowingTaskGroup(of: Void.self) { group in
            for sender in 0..<Self.senders { group.addTask { await load.send(sender: sender, to: hook) } }
            do {
                // Steady load first.
                let warmedUp = await Self.poll(timeout: .seconds(30)) { () -> Bool? in
                    load.snapshot.count { $0.status == 200 } >= Self.acknowledgedBefore ? true : nil
                }
                #expect(warmedUp != nil, "\(Self.acknowledgedBefore) deliveries acknowledged before the outage: \(load.snapshot.count { $0.status == 200 })")

                // The outage: fast shutdown, data kept; the load goes on.
                stopIssued = clock.now
                load.phase.store(Phase.outage.rawValue, ordering: .relaxed)
                try await postgres.stopServer()
                stopped = clock.now
                healthDuringOutage = await Self.poll(timeout: .seconds(20)) { () -> Int? in
                    let status = await Self.healthStatus(hook)
                    return status == 503 ? status : nil
                }
                if healthDuringOutage == nil { healthDuringOutage = await Self.healthStatus(hook) }
                // At least `minimumOutage` down, and as many deliveries sent during it settled (answered,
                // or given up by the listener's request deadline) as there are senders.
                _ = await Self.poll(timeout: .seconds(20)) { () -> Bool? in
                    let settled = load.snapshot.count { $0.phaseAtSend == .outage }
                    return settled >= Self.senders && clock.now - stopIssued >= Self.minimumOutage ? true : nil
                }

                // The server again, on the same data and port.
                startIssued = clock.now
                try await postgres.startServer()
                started = clock.now
                load.phase.store(Phase.restarted.rawValue, ordering: .relaxed)
                recoveredAt = await Self.poll(timeout: .seconds(60)) { () -> ContinuousClock.Instant? in
                    load.snapshot.filter { $0.status == 200 && $0.sentAt >= started }.map(\.answeredAt).min()
                }
                healthAfter = await Self.poll(timeout: .seconds(20)) { () -> Int? in
                    let status = await Self.healthStatus(hook)
                    return status == 200 ? status : nil
                }
                if healthAfter == nil { healthAfter = await Self.healthStatus(hook) }
                if recoveredAt != nil {
                    _ = await Self.poll(timeout: .seconds(30)) { () -> Bool? in
                        load.snapshot.count { $0.status == 200 && $0.sentAt >= started } >= Self.acknowledgedAfter ? true : nil
                    }
                }
            } catch {
                load.stopping.store(true, ordering: .relaxed)
                throw error
            }
            // Every sender's last delivery is answered before the tables are read.
            load.stopping.store(true, ordering: .relaxed)
            try await group.waitForAll()
        }

        let answers = load.snapshot
        let acknowledged = answers.filter { $0.status == 200 }
        let refused = answers.filter { $0.status == 503 }
        let unanswered = answers.filter { $0.status == nil }
        let other = answers.filter { $0.status != nil && $0.status != 200 && $0.status != 503 }
        let acknowledgedAfterRestart = acknowledged.filter { $0.sentAt >= started }

        // The daemon lived through it.
        #expect(daemon.isRunning, "the daemon exited during the outage:\n\(daemon.log.suffix(4000))")

        let stored = try await Self.deliveries(url: postgres.url, schema: schema)
        let lost = acknowledged.filter { stored[$0.sha] == nil }
        let doubled = stored.filter { $0.value.rows > 1 }
        let refusedButStored = refused.filter { stored[$0.sha] != nil }
        let unansweredButStored = unanswered.filter { stored[$0.sha] != nil }

        // The new deliveries' events are extracted (and, as their realm has no org, processed: ignored).
        let newShas = Set(acknowledgedAfterRestart.map(\.sha))
        let extracted = await Self.poll(timeout: .seconds(30)) { () -> Bool? in
            let now = try await Self.deliveries(url: postgres.url, schema: schema)
            return newShas.allSatisfy { (now[$0]?.events ?? 0) >= 1 } ? true : nil
        }
        let afterStored = try await Self.deliveries(url: postgres.url, schema: schema)
        let acknowledgedWithoutEvents = acknowledged.filter { (afterStored[$0.sha]?.events ?? 0) == 0 }
        let settled = await Self.poll(timeout: .seconds(30)) { () -> [String: Int]? in
            let statuses = try await Self.eventStatuses(url: postgres.url, schema: schema, of: newShas)
            return statuses["pending", default: 0] == 0 ? statuses : nil
        }
        let statuses = try await Self.eventStatuses(url: postgres.url, schema: schema, of: newShas)

        func seconds(_ duration: Duration) -> String { String(format: "%.2f s", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18) }
        let duringOutage = answers.filter { $0.phaseAtSend == .outage }
        let firstRefusal = refused.map(\.answeredAt).min()
        let lastRefusal = refused.map(\.answeredAt).max()
        let figures = """
            DatabaseRestartTests figures:
              deliveries sent \(answers.count) (\(Self.senders) senders): 200 \(acknowledged.count) \
            (\(acknowledgedAfterRestart.count) sent after the restart), 503 \(refused.count), other \(other.count) \(Set(other.compactMap(\.status)).sorted()), \
            no answer \(unanswered.count)
              by phase at send: before \(answers.count { $0.phaseAtSend == .before }), outage \(answers.count { $0.phaseAtSend == .outage }), \
            restarted \(answers.count { $0.phaseAtSend == .restarted })
              stop-server took \(seconds(stopped - stopIssued)); server down (stop issued → start-server returned) \(seconds(started - stopIssued)); \
            start-server took \(seconds(started - startIssued))
              sent during the outage: \(duringOutage.count): 200 \(duringOutage.count { $0.status == 200 }), 503 \(duringOutage.count { $0.status == 503 }), \
            no answer \(duringOutage.count { $0.status == nil })
              503s answered from \(firstRefusal.map { seconds($0 - stopIssued) } ?? "never") to \(lastRefusal.map { seconds($0 - stopIssued) } ?? "never") after the stop was issued
              recovery (server started → first 200 for a delivery sent after it) \(recoveredAt.map { seconds($0 - started) } ?? "never")
              /healthz during the outage \(healthDuringOutage.map(String.init) ?? "no answer"), after \(healthAfter.map(String.init) ?? "no answer")
              stored: \(stored.count) deliveries; acknowledged but missing \(lost.count); stored twice \(doubled.count); \
            answered 503 yet stored \(refusedButStored.count) of \(refused.count); unanswered yet stored \(unansweredButStored.count) of \(unanswered.count)
              acknowledged deliveries without events \(acknowledgedWithoutEvents.count); events of the post-restart deliveries \(statuses.sorted { $0.key < $1.key })
              unanswered: \(unanswered.count) (first: \(unanswered.first.map { "\($0.failure ?? "-") after \(seconds($0.answeredAt - $0.sentAt))" } ?? "-"))
            """
        let passed = !refused.isEmpty && healthDuringOutage == 503 && healthAfter == 200 && recoveredAt != nil
            && acknowledgedAfterRestart.count >= Self.acknowledgedAfter && lost.isEmpty && doubled.isEmpty && other.isEmpty && unanswered.isEmpty
            && extracted != nil && settled != nil && daemon.isRunning
        // The daemon's log goes with its directory: a failure keeps a copy as evidence.
        var kept = ""
        if !passed {
            let copy = NSTemporaryDirectory() + "/DatabaseRestartTests-\(load.run)-qbsyncd.log"
            if (try? FileManager.default.copyItem(atPath: daemon.logPath, toPath: copy)) != nil { kept = "\n  the daemon's log is kept in \(copy)" }
        }
        let report = figures + kept
        print(report)
        let logTail = daemon.log.split(separator: "\n").suffix(60).joined(separator: "\n")

        #expect(refused.count > 0, "some deliveries were answered 503 during the outage\n\(report)")
        #expect(healthDuringOutage == 503, "/healthz said 503 while the server was down\n\(report)")
        #expect(healthAfter == 200, "/healthz said 200 after the restart\n\(report)\n\(logTail)")
        #expect(recoveredAt != nil, "deliveries were answered 200 again after the restart\n\(report)\n\(logTail)")
        #expect(acknowledgedAfterRestart.count >= Self.acknowledgedAfter, "\(report)")
        #expect(lost.count == 0, "every delivery answered 200 is in qb_webhook_deliveries\n\(report)")
        #expect(doubled.count == 0, "no delivery is stored twice\n\(report)")
        #expect(other.count == 0, "only 200 and 503 answers\n\(report)")
        #expect(unanswered.count == 0, "every delivery was answered (none left to the listener's request deadline)\n\(report)")
        #expect(extracted != nil, "the events of the deliveries acknowledged after the restart are extracted\n\(report)\n\(logTail)")
        #expect(settled != nil, "and processed (ignored: their realm has no org)\n\(report)")
        #expect(daemon.isRunning, "the daemon still runs at the end")
    }
}
