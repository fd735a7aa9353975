import Foundation
import GRDB
import Logging
import QBSyncCore
import QBSyncStore
import QBTestSupport
import Synchronization
import Testing
@testable import QBSyncDaemon

/// The intake (issue 17): raw deliveries group-committed, one failing delivery costing only itself
/// (L10), replays acknowledged without a second copy (F10), events extracted after the commit and
/// after a crash.
@Suite(.timeLimit(.minutes(3))) struct WebhookIntakeTests {
    /// What the test observes, shared with the intake's callbacks and the delivering tasks.
    final class Seen: Sendable {
        let duplicates = Atomic<Int>(0)
        let holding = Atomic<Bool>(false)
        let realms = Mutex<[String]>([])
        let results = Mutex<[String: String]>([:])
    }

    static func body(_ entity: String, realm: String = "111") -> String {
        #"{"eventNotifications":[{"realmId":"\#(realm)","dataChangeEvent":{"entities":[{"name":"Invoice","id":"\#(entity)","operation":"Update","lastUpdated":"2026-11-25T10:00:00.000Z"}]}}]}"#
    }

    static func delivery(_ body: String, remote: String = "127.0.0.1") -> RawDelivery {
        RawDelivery(receivedAt: Date(), body: Data(body.utf8), signature: "sig", remoteAddress: remote)
    }

    static func intake(_ store: Store, _ seen: Seen) -> WebhookIntake {
        WebhookIntake(repository: WebhookRepository(store: store), logger: Logger(label: "test"), duplicate: { seen.duplicates.add(1, ordering: .relaxed) }) { parsed in
            seen.realms.withLock { $0 += parsed.flatMap { $0.events.map(\.entityID) } }
        }
    }

    static func count(_ store: Store, _ sql: String) async throws -> Int {
        try await store.writer.read { db in try Int.fetchOne(db, sql: sql) ?? -1 }
    }

    @Test func oneFailingDeliveryDoesNotFailTheOthersInItsGroupCommit() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        defer { try? store.close() }  // try?: the test is over
        // A delivery from this address cannot be inserted (a stand-in for any one-row failure).
        try await store.writer.write { db in
            try db.execute(
                sql: "CREATE TRIGGER test_refuse BEFORE INSERT ON qb_webhook_deliveries WHEN NEW.remote_address = 'bad' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
        }
        let seen = Seen()
        let intake = Self.intake(store, seen)
        let running = Task { try await intake.run() }
        defer { running.cancel() }

        // The writer is held, so the first delivery's commit waits and the next four queue behind it
        // into one group commit: a good one, the bad one, a replay of the first good one, another good one.
        // The gate opens on every way out of the test, and on its own after 30 s at most: a writer
        // held for good would block the store's close, and with it the whole test run.
        let gate = DispatchSemaphore(value: 0)
        let held = Task {
            try await store.writer.write { _ in
                seen.holding.store(true, ordering: .relaxed)
                _ = gate.wait(timeout: .now() + 30)
            }
        }
        defer { gate.signal() }
        _ = try await eventually("the writer held") { seen.holding.load(ordering: .relaxed) ? true : nil }
        let first = Task { try await intake.append(Self.delivery(Self.body("first"))) }
        _ = try await eventually("the first commit under way") { intake.queue == (0, true) ? true : nil }
        let group = Task {
            await withTaskGroup(of: Void.self) { group in
                for (name, remote) in [("good-1", "127.0.0.1"), ("bad", "bad"), ("good-1", "127.0.0.1"), ("good-2", "127.0.0.1")] {
                    group.addTask {
                        let outcome: String
                        do {
                            let result = try await intake.append(Self.delivery(Self.body(name), remote: remote))
                            if case .duplicate = result { outcome = "duplicate" } else { outcome = "stored" }
                        } catch {
                            outcome = "refused"
                        }
                        seen.results.withLock { $0[name + "@" + remote, default: ""] += outcome + " " }
                    }
                }
            }
        }
        _ = try await eventually("four deliveries queued") { intake.queue.waiting == 4 ? true : nil }
        gate.signal()
        _ = try await held.value
        _ = try await first.value
        await group.value

        let outcomes = seen.results.withLock { $0 }
        #expect(outcomes["bad@bad"] == "refused ", "only the failing delivery is refused: \(outcomes)")
        #expect(outcomes["good-2@127.0.0.1"] == "stored ", "\(outcomes)")
        #expect(outcomes["good-1@127.0.0.1"]?.split(separator: " ").sorted() == ["duplicate", "stored"], "one copy stored, the replay acknowledged: \(outcomes)")
        #expect(seen.duplicates.load(ordering: .relaxed) == 1)
        let bodies = try await store.writer.read { db in try Data.fetchAll(db, sql: "SELECT body FROM qb_webhook_deliveries ORDER BY id") }
        #expect(bodies.map { String(decoding: $0, as: UTF8.self) }.sorted() == ["first", "good-1", "good-2"].map { Self.body($0) }.sorted())
        // Their events are extracted after the commit, and the pipeline is told.
        _ = try await eventually("events extracted") { seen.realms.withLock { $0.sorted() } == ["first", "good-1", "good-2"] ? true : nil }
        #expect(try await Self.count(store, "SELECT COUNT(*) FROM qb_webhook_events") == 3)
        #expect(try await Self.count(store, "SELECT COUNT(*) FROM qb_webhook_unexpanded") == 0)
    }

    /// While the intake runs, a batch's events are written a few deliveries to a transaction: a
    /// commit that comes due waits behind one small transaction on the one writer, not behind a
    /// whole batch of 64 (which held it 5.5 ms, and pushed the p99 at 2,000/s past 10 ms).
    @Test func theRunningExtractionWritesInSmallTransactions() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        defer { try? store.close() }  // try?: the test is over
        let repository = WebhookRepository(store: store)
        _ = try await repository.appendRaw((0..<40).map { Self.delivery(Self.body("e\($0)")) })
        let observer = DeliveriesPerTransaction()
        store.writer.add(transactionObserver: observer, extent: .databaseLifetime)
        let seen = Seen()
        let intake = Self.intake(store, seen)
        let running = Task { try await intake.run() }
        defer { running.cancel() }
        _ = try await eventually("every listed delivery extracted") { seen.realms.withLock { $0.count } == 40 ? true : nil }
        let sizes = observer.sizes.withLock { $0 }
        #expect(sizes.reduce(0, +) == 40, "each delivery taken off the list once: \(sizes)")
        #expect(sizes.allSatisfy { $0 <= WebhookIntake.expansionWriteChunk }, "\(sizes)")
        #expect(sizes.count >= 40 / WebhookIntake.expansionWriteChunk)
        #expect(try await Self.count(store, "SELECT COUNT(*) FROM qb_webhook_events") == 40)
    }

    /// Counts the deliveries each committed transaction takes off the extraction list.
    final class DeliveriesPerTransaction: TransactionObserver, Sendable {
        let sizes = Mutex<[Int]>([])
        private let current = Mutex(0)
        func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool {
            if case .delete(let table) = eventKind { return table == "qb_webhook_unexpanded" }
            return false
        }
        func databaseDidChange(with event: DatabaseEvent) { current.withLock { $0 += 1 } }
        func databaseDidCommit(_ db: Database) {
            let taken = current.withLock { count in defer { count = 0 }; return count }
            if taken > 0 { sizes.withLock { $0.append(taken) } }
        }
        func databaseDidRollback(_ db: Database) { current.withLock { $0 = 0 } }
    }

    /// A crash after the commit and before the extraction loses nothing: what is still listed is
    /// extracted at the next start (``WebhookIntake/expandListed()``), and only once.
    @Test func deliveriesCommittedButNotExtractedAreExtractedAtStart() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        defer { try? store.close() }  // try?: the test is over
        // Given: three raw deliveries committed (one not JSON) and one exact replay, nothing extracted.
        let repository = WebhookRepository(store: store)
        let outcomes = try await repository.appendRaw(["a", "b"].map { Self.delivery(Self.body($0)) } + [Self.delivery("not json"), Self.delivery(Self.body("a"))])
        #expect(outcomes[3] == .duplicate(of: { if case .stored(let id) = outcomes[0] { id } else { -1 } }()))
        #expect(try await Self.count(store, "SELECT COUNT(*) FROM qb_webhook_unexpanded") == 3)
        #expect(try await Self.count(store, "SELECT COUNT(*) FROM qb_webhook_events") == 0)
        // When: a new intake starts and extracts.
        let seen = Seen()
        let intake = Self.intake(store, seen)
        await intake.expandListed()
        await intake.expandListed()
        // Then: two events, and one failed event for the body that is not JSON; nothing left listed.
        #expect(seen.realms.withLock { $0.sorted() } == ["a", "b"])
        #expect(try await Self.count(store, "SELECT COUNT(*) FROM qb_webhook_events WHERE status = 'ignored'") == 2, "realm 111 belongs to no org")
        #expect(try await Self.count(store, "SELECT COUNT(*) FROM qb_webhook_events WHERE status = 'failed' AND type = 'unparsed'") == 1)
        #expect(try await Self.count(store, "SELECT COUNT(*) FROM qb_webhook_unexpanded") == 0)
        #expect(try await Self.count(store, "SELECT COUNT(*) FROM qb_webhook_deliveries WHERE format = 'classic'") == 2)
        #expect(try await Self.count(store, "SELECT COUNT(*) FROM qb_webhook_deliveries WHERE format = 'unknown'") == 1)
    }

    /// Intuit's retry of CloudEvents in a new body: the delivery is logged, its events are not
    /// stored a second time, and it counts as a duplicate (F10).
    @Test func cloudEventsRetriedInANewBodyAreNotStoredTwice() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        defer { try? store.close() }  // try?: the test is over
        func event(_ id: String) -> String {
            #"{"specversion":"1.0","id":"\#(id)","source":"intuit","type":"qbo.invoice.updated.v1","time":"2026-11-25T10:00:00Z","intuitentityid":"7","intuitaccountid":"111"}"#
        }
        let seen = Seen()
        let intake = Self.intake(store, seen)
        let running = Task { try await intake.run() }
        defer { running.cancel() }
        try await intake.append(Self.delivery("[\(event("e1")),\(event("e2"))]"))
        try await intake.append(Self.delivery("[\(event("e2")), \(event("e1"))]"))
        _ = try await eventually("both extracted") { try await Self.count(store, "SELECT COUNT(*) FROM qb_webhook_unexpanded") == 0 ? true : nil }
        #expect(try await Self.count(store, "SELECT COUNT(*) FROM qb_webhook_deliveries WHERE format = 'cloudevents'") == 2)
        #expect(try await Self.count(store, "SELECT COUNT(*) FROM qb_webhook_events") == 2)
        #expect(seen.duplicates.load(ordering: .relaxed) == 1)
    }
}
