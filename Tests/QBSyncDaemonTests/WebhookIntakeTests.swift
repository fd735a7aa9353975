import Foundation
import GRDB
import Logging
import QBSyncCore
import QBSyncStore
import QBTestSupport
import Synchronization
import Testing
@testable import QBSyncDaemon

/// Group commit at intake: one failing delivery costs only itself (L10), and a replay inside a
/// group commit is acknowledged with it, not stored (F10).
@Suite struct WebhookIntakeTests {
    /// What the test observes, shared with the intake's callbacks and the delivering tasks.
    final class Seen: Sendable {
        let duplicates = Atomic<Int>(0)
        let holding = Atomic<Bool>(false)
        let stored = Mutex<[String]>([])
        let results = Mutex<[String: String]>([:])
    }

    static func delivery(_ body: String, remote: String = "127.0.0.1") -> IncomingDelivery {
        IncomingDelivery(
            receivedAt: Date(), body: Data(body.utf8), signature: "sig", remoteAddress: remote, format: .classic,
            events: [WebhookEventFact(realmID: "111", entityName: "Invoice", entityID: body, operation: "Update", lastUpdated: nil, type: "", cloudEventID: nil)]
        )
    }

    @Test func oneFailingDeliveryDoesNotFailTheOthersInItsGroupCommit() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        defer { try? store.close() }
        // A delivery from this address cannot be inserted (a stand-in for any one-row failure).
        try await store.writer.write { db in
            try db.execute(
                sql: "CREATE TRIGGER test_refuse BEFORE INSERT ON qb_webhook_deliveries WHEN NEW.remote_address = 'bad' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
        }
        let seen = Seen()
        let intake = WebhookIntake(repository: WebhookRepository(store: store), duplicate: { seen.duplicates.add(1, ordering: .relaxed) }) { deliveries in
            seen.stored.withLock { $0 += deliveries.map { String(decoding: $0.body, as: UTF8.self) } }
        }

        // The writer is held, so the first delivery's commit waits and the next four queue behind it
        // into one group commit: a good one, the bad one, a replay of the first good one, another good one.
        let gate = DispatchSemaphore(value: 0)
        let held = Task {
            try await store.writer.write { _ in
                seen.holding.store(true, ordering: .relaxed)
                gate.wait()
            }
        }
        _ = try await eventually("the writer held") { seen.holding.load(ordering: .relaxed) ? true : nil }
        let first = Task { try await intake.append(Self.delivery("first")) }
        _ = try await eventually("the first commit under way") { await intake.queue == (0, true) ? true : nil }
        let group = Task {
            await withTaskGroup(of: Void.self) { group in
                for (body, remote) in [("good-1", "127.0.0.1"), ("bad", "bad"), ("good-1", "127.0.0.1"), ("good-2", "127.0.0.1")] {
                    group.addTask {
                        let outcome: String
                        do {
                            let result = try await intake.append(Self.delivery(body, remote: remote))
                            if case .duplicate = result { outcome = "duplicate" } else { outcome = "stored" }
                        } catch {
                            outcome = "refused"
                        }
                        seen.results.withLock { $0[body + "@" + remote, default: ""] += outcome + " " }
                    }
                }
            }
        }
        _ = try await eventually("four deliveries queued") { await intake.queue.waiting == 4 ? true : nil }
        gate.signal()
        _ = try await held.value
        _ = try await first.value
        await group.value

        let outcomes = seen.results.withLock { $0 }
        #expect(outcomes["bad@bad"] == "refused ", "only the failing delivery is refused: \(outcomes)")
        #expect(outcomes["good-2@127.0.0.1"] == "stored ", "\(outcomes)")
        #expect(outcomes["good-1@127.0.0.1"]?.split(separator: " ").sorted() == ["duplicate", "stored"], "one copy stored, the replay acknowledged: \(outcomes)")
        #expect(seen.duplicates.load(ordering: .relaxed) == 1)
        #expect(seen.stored.withLock { $0.sorted() } == ["first", "good-1", "good-2"])
        let bodies = try await store.writer.read { db in try Data.fetchAll(db, sql: "SELECT body FROM qb_webhook_deliveries ORDER BY id") }
        #expect(bodies.map { String(decoding: $0, as: UTF8.self) }.sorted() == ["first", "good-1", "good-2"])
    }
}
