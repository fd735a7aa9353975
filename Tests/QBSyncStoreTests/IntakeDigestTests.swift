import Crypto
import Foundation
import GRDB
import Logging
import QBSyncCore
import QBTestSupport
import Testing
@testable import QBSyncStore

/// The intake's commit leaves a delivery's body digest to the extraction (issue 17, v13): an exact
/// replay is still recognised before the digest is indexed, after it, and after a crash in between
/// (F10); the log stays append-only but for that digest, written once; and the digests waiting in
/// memory stay under their limit.
@Suite struct IntakeDigestTests {
    static func raw(_ entity: String) -> RawDelivery {
        let body = #"{"eventNotifications":[{"realmId":"111","dataChangeEvent":{"entities":[{"name":"Invoice","id":"\#(entity)","operation":"Update","lastUpdated":"2026-11-25T10:00:00.000Z"}]}}]}"#
        return RawDelivery(receivedAt: Date(), body: Data(body.utf8), signature: "sig", remoteAddress: "127.0.0.1")
    }

    static func digest(of id: Int64, in store: Store) async throws -> Data? {
        try await store.writer.read { db in try Data.fetchOne(db, sql: "SELECT body_sha256 FROM qb_webhook_deliveries WHERE id = ?", arguments: [id]) }
    }

    static func storedID(_ outcome: WebhookRepository.AppendOutcome?) -> Int64 {
        guard case .stored(let id) = outcome else {
            Issue.record("not stored: \(String(describing: outcome))")
            return -1
        }
        return id
    }

    /// Extracts everything listed, as the intake's extraction does.
    static func extractAll(_ repository: WebhookRepository) async throws {
        let listed = try await repository.unexpanded(limit: 1_000)
        _ = try await repository.expand(listed.map { (delivery: $0, parsed: WebhookPayload.parseDelivery($0.body)) })
    }

    @Test func aReplayIsRecognisedBeforeItsDigestIsIndexedAfterACrashAndAfterTheExtraction() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        var store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        // Given: a delivery committed by the intake, its digest not yet in the index.
        let a = Self.raw("a")
        let id = Self.storedID(try await WebhookRepository(store: store).appendRaw([a]).first)
        #expect(try await Self.digest(of: id, in: store) == nil, "the commit writes no index entry")
        #expect(store.undigested.count == 1)
        // Then: its replay is recognised from the digests in memory.
        #expect(try await WebhookRepository(store: store).appendRaw([a]) == [.duplicate(of: id)])

        // When: the daemon dies before the extraction (the memory is gone) and the store opens again.
        try store.close()
        store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        defer { try? store.close() }  // try?: the test is over
        let repository = WebhookRepository(store: store)
        // Then: the replay is still recognised (the listed deliveries' digests are loaded first), and once only.
        #expect(try await repository.appendRaw([a, Self.raw("b")]).first == .duplicate(of: id))
        #expect(store.undigested.count == 2)

        // When: the extraction runs.
        try await Self.extractAll(repository)
        // Then: the digests are in the index, none waits in memory, and replays are recognised from the index.
        #expect(try await Self.digest(of: id, in: store) == Data(SHA256.hash(data: a.body)))
        #expect(store.undigested.count == 0)
        #expect(try await repository.appendRaw([a]) == [.duplicate(of: id)])
        #expect(try await repository.append([IncomingDelivery(receivedAt: Date(), body: a.body, signature: "s", remoteAddress: nil, format: .classic, events: [])]) == [.duplicate(of: id)])
        #expect(try await store.writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM qb_webhook_deliveries") } == 2)
    }

    @Test func theLogStaysAppendOnlyButForAMissingDigestWrittenOnce() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        defer { try? store.close() }  // try?: the test is over
        let id = Self.storedID(try await WebhookRepository(store: store).appendRaw([Self.raw("a")]).first)
        let digest = Data(repeating: 7, count: 32)
        func update(_ sql: String, _ arguments: StatementArguments) async throws {
            try await store.writer.write { db in try db.execute(sql: sql, arguments: arguments) }
        }
        await #expect(throws: DatabaseError.self, "the body is never changed") { try await update("UPDATE qb_webhook_deliveries SET body = x'00' WHERE id = ?", [id]) }
        await #expect(throws: DatabaseError.self, "nor with the digest") {
            try await update("UPDATE qb_webhook_deliveries SET body_sha256 = ?, signature = 'x' WHERE id = ?", [digest, id])
        }
        await #expect(throws: DatabaseError.self, "a digest is 32 bytes") { try await update("UPDATE qb_webhook_deliveries SET body_sha256 = x'01' WHERE id = ?", [id]) }
        try await update("UPDATE qb_webhook_deliveries SET body_sha256 = ? WHERE id = ?", [digest, id])
        await #expect(throws: DatabaseError.self, "written once") { try await update("UPDATE qb_webhook_deliveries SET body_sha256 = ? WHERE id = ?", [Data(repeating: 8, count: 32), id]) }
        await #expect(throws: DatabaseError.self, "and never taken back") { try await update("UPDATE qb_webhook_deliveries SET body_sha256 = NULL WHERE id = ?", [id]) }
        #expect(try await Self.digest(of: id, in: store) == digest)
    }

    @Test func pastTheLimitTheCommitIndexesTheDigestItself() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let opened = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        let store = Store(writer: opened.writer, path: opened.path, health: opened.health, undigested: UndigestedDeliveries(limit: 2))
        defer { try? store.close() }  // try?: the test is over
        let repository = WebhookRepository(store: store)
        // Given: two deliveries waiting for their digests, the limit.
        let first = try await repository.appendRaw([Self.raw("a"), Self.raw("b")])
        // When: a third is committed.
        let c = Self.raw("c")
        let id = Self.storedID(try await repository.appendRaw([c]).first)
        // Then: its digest is indexed by its own commit, memory holds no more, and its replay is still recognised.
        #expect(try await Self.digest(of: id, in: store) == Data(SHA256.hash(data: c.body)))
        #expect(try await Self.digest(of: Self.storedID(first[0]), in: store) == nil)
        #expect(store.undigested.count == 2)
        #expect(try await repository.appendRaw([c, Self.raw("a")]) == [.duplicate(of: id), first[0]].map { outcome in
            if case .stored(let original) = outcome { .duplicate(of: original) } else { outcome }
        })
        // And the extraction fills in only the missing digests.
        try await Self.extractAll(repository)
        #expect(store.undigested.count == 0)
        #expect(try await Self.digest(of: id, in: store) == Data(SHA256.hash(data: c.body)))
    }

    @Test func theStartLoadsTheListedDeliveriesWithoutReadingTheWholeLog() async throws {
        // Given: a store of 500 extracted deliveries and one still listed, as a crash leaves it.
        let directory = try TempDirectory()
        defer { directory.remove() }
        let store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        let repository = WebhookRepository(store: store)
        var ids: [Int64] = []
        for start in stride(from: 0, to: 500, by: 100) {
            ids += try await repository.appendRaw((start..<start + 100).map { Self.raw("\($0)") }).map(Self.storedID)
        }
        try await Self.extractAll(repository)
        let listed = Self.storedID(try await repository.appendRaw([Self.raw("listed")]).first)
        try store.close()
        let reopened = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        defer { try? reopened.close() }  // try?: the test is over
        // When: the first commit after the start loads what waits for its digest.
        let plan = try await reopened.writer.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + UndigestedDeliveries.listedWithoutDigest).map { $0["detail"] as String }
        }
        // Then: it walks the short list and looks each delivery up by id, never scanning the log
        // (a plain JOIN scanned every delivery: 2.3 s at 406,000, while every delivery waited).
        #expect(plan.first?.hasPrefix("SCAN u") == true, "\(plan)")
        #expect(!plan.contains { $0.hasPrefix("SCAN d") }, "\(plan)")
        // And what it loads is right: the listed delivery's replay is recognised, the others' too.
        #expect(try await WebhookRepository(store: reopened).appendRaw([Self.raw("listed"), Self.raw("7")]) == [.duplicate(of: listed), .duplicate(of: ids[7])])
        #expect(reopened.undigested.count == 1)
    }

    @Test func theWaitingDigestsAreKeyedByAllTheirBytes() {
        // Given: two digests that differ only in their last byte, and one only in its first.
        let waiting = UndigestedDeliveries()
        let digest = Data(SHA256.hash(data: Data("a body".utf8)))
        var last = digest
        last[31] ^= 1
        var first = digest
        first[0] ^= 1
        // When: only the first is committed.
        waiting.committed([(digest, 7)])
        // Then: it is found, and neither of the others is taken for it.
        #expect(waiting.delivery(withDigest: digest) == 7)
        #expect(waiting.delivery(withDigest: last) == nil)
        #expect(waiting.delivery(withDigest: first) == nil)
        waiting.indexed([last])
        #expect(waiting.count == 1)
        waiting.indexed([digest])
        #expect(waiting.count == 0)
        // And the default holds more than a burst of 25 s at 15,000 deliveries/s.
        #expect(UndigestedDeliveries.standardLimit >= 375_000)
    }
}
