import Foundation
import GRDB
import Logging
import QBSyncCore
import QBTestSupport
import Testing
@testable import QBSyncStore

/// F10 in the store: replays are recognised, the log leaves only through a recorded, hash-chained
/// archive, and a large store's log pages are checked after opening, not before.
@Suite struct WebhookLogRetentionTests {
    static func delivery(_ body: String, at date: Date = Date(), realm: String = "111", cloudEventIDs: [String]? = nil) -> IncomingDelivery {
        let events = (cloudEventIDs.map { $0.map(Optional.some) } ?? [String?.none]).map { id in
            WebhookEventFact(
                realmID: realm, entityName: "Invoice", entityID: body, operation: "Update", lastUpdated: nil, type: "qbo.invoice.updated.v1", cloudEventID: id
            )
        }
        return IncomingDelivery(
            receivedAt: date, body: Data(body.utf8), signature: "sig", remoteAddress: "127.0.0.1", format: cloudEventIDs == nil ? .classic : .cloudevents, events: events
        )
    }

    static func count(_ store: Store, _ table: String) async throws -> Int {
        try await store.writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? -1 }
    }

    @Test func anExactReplayIsAnsweredWithTheOriginalAndNotStoredAgain() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        defer { try? store.close() }
        let log = WebhookRepository(store: store)

        let first = try await log.append([Self.delivery("a")])
        guard case .stored(let original) = first[0] else { Issue.record("the first copy is stored: \(first)"); return }
        #expect(try await log.append([Self.delivery("a")]) == [.duplicate(of: original)], "a later replay names the stored original")
        // Two copies in one group commit: the second is a duplicate of the first, committed with it.
        let batch = try await log.append([Self.delivery("b"), Self.delivery("b"), Self.delivery("c")])
        guard case .stored(let b) = batch[0] else { Issue.record("\(batch)"); return }
        #expect(batch[1] == .duplicate(of: b))
        if case .stored = batch[2] {} else { Issue.record("a different body is stored: \(batch)") }
        // CloudEvents: a new body whose every event id is stored is a replay; one new id is not.
        let cloud = try await log.append([Self.delivery(#"{"ce":1}"#, cloudEventIDs: ["e1", "e2"])])
        guard case .stored(let ce) = cloud[0] else { Issue.record("\(cloud)"); return }
        #expect(try await log.append([Self.delivery(#"{"ce":2}"#, cloudEventIDs: ["e2", "e1"])]) == [.duplicate(of: ce)])
        let partly = try await log.append([Self.delivery(#"{"ce":3}"#, cloudEventIDs: ["e1", "e3"])])
        if case .stored = partly[0] {} else { Issue.record("a delivery with a new event id is stored: \(partly)") }
        #expect(try await Self.count(store, "qb_webhook_deliveries") == 5, "a, b, c and two CloudEvents deliveries")
    }

    @Test func rowsLeaveTheLogOnlyThroughAChainedArchiveOfOldSettledDeliveries() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        defer { try? store.close() }
        let log = WebhookRepository(store: store)
        let archives = LogArchiveRepository(store: store)
        // Realm 222 belongs to an org, so its events stay pending; 111's are settled (ignored).
        try await store.writer.write { db in try db.execute(sql: "INSERT INTO qb_configs (org, realm_id, status, created_at, updated_at) VALUES ('acme', '222', 'connected', 0, 0)") }
        let old = Date().addingTimeInterval(-40 * 86_400)
        try await log.append((0..<5).map { Self.delivery("old-\($0)", at: old) })
        try await log.append([Self.delivery("old-pending", at: old, realm: "222"), Self.delivery("old-after-pending", at: old)])
        try await log.append([Self.delivery("new", at: Date())])

        // Without an archive, the triggers refuse DELETE (and UPDATE, as before).
        for sql in ["DELETE FROM qb_webhook_events WHERE delivery_id = 1", "DELETE FROM qb_webhook_deliveries WHERE id = 8", "UPDATE qb_webhook_deliveries SET signature = 'x'"] {
            await #expect(throws: DatabaseError.self, "\(sql)") { try await store.writer.write { db in try db.execute(sql: sql) } }
        }

        // Archiving 30 days back stops before the pending event's delivery: rows 1–5 leave.
        let made = try await archives.archive(receivedBefore: Date().addingTimeInterval(-30 * 86_400), chunk: 3)
        #expect(made.map { [$0.firstDeliveryID, $0.lastDeliveryID] } == [[1, 3], [4, 5]])
        #expect(made.map(\.deliveries) == [3, 2] && made.map(\.events) == [3, 2])
        #expect(made[0].previousSHA256 == nil && made[1].previousSHA256 == made[0].sha256, "each archive names the previous one's hash")
        #expect(try await Self.count(store, "qb_webhook_deliveries") == 3)
        #expect(try await Self.count(store, "qb_webhook_events") == 3)
        #expect(try await archives.list() == made)

        // The file: 0600 in a 0700 directory, its hash the recorded one, holding every row.
        let path = archives.directory + "/" + made[0].file
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect((try FileManager.default.attributesOfItem(atPath: archives.directory)[.posixPermissions] as? NSNumber)?.intValue == 0o700)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4, "a header and three deliveries")
        let header = try JSONDecoder().decode(JSONValue.self, from: Data(lines[0].utf8))
        #expect(header["firstDeliveryId"]?.intValue == 1 && header["previousSha256"] == .null)
        let row = try JSONDecoder().decode(JSONValue.self, from: Data(lines[1].utf8))
        #expect(row["delivery"]?["body"]?.stringValue == Data("old-0".utf8).base64EncodedString())
        #expect(row["events"]?.arrayValue?.first?["entity_id"]?.stringValue == "old-0")

        // The rows left stay protected; the archive record itself cannot change.
        await #expect(throws: DatabaseError.self) { try await store.writer.write { db in try db.execute(sql: "DELETE FROM qb_webhook_deliveries WHERE id = 7") } }
        for sql in ["UPDATE qb_log_archives SET sha256 = 'x'", "DELETE FROM qb_log_archives"] {
            await #expect(throws: DatabaseError.self, "\(sql)") { try await store.writer.write { db in try db.execute(sql: sql) } }
        }
        // Nothing more is old and settled before the pending event.
        #expect(try await archives.archive(receivedBefore: Date()).isEmpty)

        // Verification: both verified; a changed file differs; a moved one is missing.
        let checks = try await archives.verify()
        #expect(checks.map(\.outcome) == [.verified, .verified], "\(checks)")
        try Data("tampered\n".utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.removeItem(atPath: archives.directory + "/" + made[1].file)
        #expect(try await archives.verify().map(\.outcome) == [.mismatched, .missing])
    }

    /// Overwrites one page of the file with garbage.
    static func damage(page: Int, of path: String) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.seek(toOffset: UInt64((page - 1) * 4096))
        try handle.write(contentsOf: Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) }))
        try handle.close()
    }

    @Test func aLargeStoreOpensWithoutReadingItsLogAndChecksItAfter() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        var store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        try await WebhookRepository(store: store).append((0..<400).map { Self.delivery(String(repeating: "x", count: 900) + "\($0)") })
        let (logPage, configPage) = try await store.writer.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT rootpage FROM sqlite_schema WHERE name = 'qb_webhook_deliveries'")!,
                try Int.fetchOne(db, sql: "SELECT rootpage FROM sqlite_schema WHERE name = 'qb_configs'")!
            )
        }
        try store.close()
        let path = directory.file("qbsyncd.sqlite")
        let original = try Data(contentsOf: URL(fileURLWithPath: path))

        // Under the size limit: a whole check before opening, nothing left to check after.
        store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        #expect(store.health.snapshot.integrity == .ok)
        try store.close()

        // A damaged log page in a "large" store (limit 0): it opens, and the check after finds it.
        try Self.damage(page: logPage, of: path)
        store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"), fullStartCheckBytes: 0)
        #expect(store.health.snapshot.integrity == .checking)
        await store.checkIntegrity()
        guard case .damaged = store.health.snapshot.integrity else { Issue.record("the check after opening finds the damage"); return }
        #expect(store.health.snapshot.problem?.hasPrefix("store damaged") == true)
        try store.close()

        // A damaged page of another table is still refused before opening.
        try original.write(to: URL(fileURLWithPath: path))
        try Self.damage(page: configPage, of: path)
        #expect(throws: StoreError.self) { try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"), fullStartCheckBytes: 0) }

        // An intact large store: checked after opening, ok.
        try original.write(to: URL(fileURLWithPath: path))
        store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"), fullStartCheckBytes: 0)
        await store.checkIntegrity()
        #expect(store.health.snapshot.integrity == .ok)
        try store.close()
    }
}
