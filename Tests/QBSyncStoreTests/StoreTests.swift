import Foundation
import GRDB
import Logging
import QBSyncCore
import QBTestSupport
import Testing
@testable import QBSyncStore

@Suite struct StoreTests {
    @Test func opensAWALDatabaseAndAppliesEveryMigration() async throws {
        // Given a fresh state directory
        let directory = try TempDirectory()
        defer { directory.remove() }
        // When the store opens
        let store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        // Then the file is in WAL mode, migrated, with a busy timeout
        #expect(FileManager.default.fileExists(atPath: directory.file("qbsyncd.sqlite")))
        let mode = try await store.writer.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
        #expect(try store.appliedMigrations() == ["v1-qb-configs", "v2-connections", "v3-entity-mappings", "v4-webhooks", "v5-reconciler", "v6-read-budget", "v7-drift-and-invoice-history", "v8-item-income-account", "v9-realm-scoped-mappings", "v10-log-dedupe-and-archives", "v11-deferred-event-extraction", "v12-pending-updates", "v13-digest-after-commit"])
        #expect(await store.isWritable())
        try store.close()

        // And opening it again keeps what was written
        let reopened = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        #expect(try reopened.appliedMigrations() == ["v1-qb-configs", "v2-connections", "v3-entity-mappings", "v4-webhooks", "v5-reconciler", "v6-read-budget", "v7-drift-and-invoice-history", "v8-item-income-account", "v9-realm-scoped-mappings", "v10-log-dedupe-and-archives", "v11-deferred-event-extraction", "v12-pending-updates", "v13-digest-after-commit"])
        try reopened.close()
    }

    @Test func theWALIsCheckpointedEveryFewHundredPagesSoNoCommitWaitsBehindALongCheckpoint() async throws {
        // Given a store, and about 2,000 pages of deliveries committed one by one, as the intake does
        let directory = try TempDirectory()
        defer { directory.remove() }
        let store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        let repository = WebhookRepository(store: store)
        let filler = String(repeating: "x", count: 3_000)
        for index in 0..<2_000 {
            let body = #"{"eventNotifications":[{"realmId":"111","dataChangeEvent":{"entities":[{"name":"Invoice","id":"\#(index)","operation":"Update"}]}}],"pad":"\#(filler)"}"#
            try await repository.appendRaw([RawDelivery(receivedAt: Date(), body: Data(body.utf8), signature: "sig", remoteAddress: nil)])
        }
        let pageSize = try await store.writer.read { db in try Int.fetchOne(db, sql: "PRAGMA page_size") } ?? 4096
        #expect(try await store.writer.read { db in try Int.fetchOne(db, sql: "PRAGMA page_count") } ?? 0 > 1_800)
        // Then the WAL never grew past a few hundred pages (SQLite's default lets it reach 1,000 and
        // more: a checkpoint of them all, and the commits behind its fsync, took several times longer)
        let walBytes = try #require(try FileManager.default.attributesOfItem(atPath: directory.file("qbsyncd.sqlite-wal"))[.size] as? NSNumber).intValue
        let walPages = walBytes / (pageSize + 24)
        #expect(walPages > 0 && walPages <= Store.walCheckpointPages + 50, "the WAL reached \(walPages) pages")
        try store.close()
    }

    @Test func aMissingStateDirectoryIsAClearError() {
        #expect {
            try Store.open(stateDirectory: "/nonexistent/qbsyncd-state", logger: Logger(label: "test"))
        } throws: { error in
            guard let error = error as? StoreError else { return false }
            return error.code == .stateDirectoryMissing && error.message.contains("/nonexistent/qbsyncd-state")
        }
    }

    @Test func orgRepositoryCountsByStatus() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        defer { try? store.close() }
        let orgs = OrgRepository(store: store)
        #expect(try await orgs.statusCounts() == OrgStatusCounts())
        try await orgs.ensure(OrgID("b-org")!)
        try await orgs.ensure(OrgID("a-org")!)
        try await orgs.ensure(OrgID("a-org")!)
        try await store.writer.write { db in
            try db.execute(sql: "UPDATE qb_configs SET status = 'connected', realm_id = '123' WHERE org = 'a-org'")
        }
        #expect(try await orgs.statusCounts() == OrgStatusCounts(total: 2, connected: 1, needsReauthorization: 0))
        #expect(try await orgs.list().map(\.org.rawValue) == ["a-org", "b-org"])
        #expect(try await orgs.find(OrgID("a-org")!)?.realmID == "123")
    }

    @Test func theSchemaRefusesAnUnknownStatus() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        defer { try? store.close() }
        await #expect(throws: DatabaseError.self) {
            try await store.writer.write { db in
                try db.execute(sql: "INSERT INTO qb_configs (org, status, created_at, updated_at) VALUES ('x', 'bogus', 0, 0)")
            }
        }
    }
}
