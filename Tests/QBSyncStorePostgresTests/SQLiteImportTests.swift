import Foundation
import GRDB
import PostgresNIO
import QBSyncCore
import QBSyncStore
@testable import QBSyncStorePostgres
import QBTestSupport
import Testing

/// `qbsyncd --migrate-to`'s copy: a SQLite store filled through its own repositories reads back
/// the same through the PostgreSQL repositories; a target holding data is refused and left as it was.
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(2)))
struct SQLiteImportTests {
    let org = OrgID("org-import")!
    let other = OrgID("org-import-2")!
    let now = Fixtures.now
    let realm = Fixtures.realm
    let month = "2027-01"

    /// A SQLite store with a bit of everything: a connected org with sealed tokens, another org,
    /// mappings (synced, pending, failed), history, items, feed state and links, read quota, and
    /// webhook deliveries with events, one settled.
    func fill(_ b: Backend, vault: TokenVault) async throws {
        let connections = b.connections(vault)
        try await b.orgs.ensure(other, now: now)
        try await connections.insertState(Secret("state-import"), org: org, expiresAt: now.addingTimeInterval(600), now: now)
        try await connections.connect(org: org, realmID: realm, environment: "sandbox", tokens: Tokens.pair("import"), now: now)
        try await connections.setCompanyName("Import Co", org: org)
        _ = try await b.mappings.intendCreate(org: org, realm: realm, kind: .demand, localID: "inv-1", developmentID: "dev-1", contentHash: Data([1]), now: now)
        try await b.mappings.recordSynced(org: org, realm: realm, kind: .demand, localID: "inv-1", state: Fixtures.state(qboID: "77"), now: now)
        try await b.mappings.recordSynced(
            org: org, realm: realm, kind: .demand, localID: "inv-1", state: Fixtures.state(qboID: "77", syncToken: "1", status: .paid, balance: 0),
            now: now.addingTimeInterval(60)
        )
        try await b.mappings.recordSynced(
            org: org, realm: realm, kind: .development, localID: "dev-1", state: Fixtures.state(qboID: "12", history: nil), now: now
        )
        _ = try await b.mappings.intendCreate(org: org, realm: realm, kind: .demand, localID: "inv-2", developmentID: "dev-1", contentHash: Data([2]), now: now)
        try await b.mappings.recordError(org: org, realm: realm, kind: .demand, localID: "inv-2", error: "refused", now: now)
        try await b.mappings.storeItem(realmID: realm, name: "Services", itemID: "1", incomeAccount: "79")
        try await b.feed.recordRead(realmID: realm, watermark: now, at: now, addChanges: 3, addMissed: 1, suspectedLoss: true)
        try await b.feed.storeLinks(realmID: realm, paymentID: "p-1", invoiceIDs: ["77"])
        _ = try await b.quota.load(month: month, budget: 1_000, reservePercent: 10)
        try await b.quota.count(.sweep, realmID: realm, month: month)
        try await b.quota.count(.event, realmID: realm, month: month)
        _ = try await b.webhooks.append([Fixtures.cloudEvents(["a", "b"]), Fixtures.cloudEvents(["c"], realmID: "42")])
        let due = try await b.webhooks.due(realmID: realm, now: now.addingTimeInterval(1), limit: 10)
        _ = try await b.webhooks.settle([(id: try #require(due.first).id, status: "processed", resolution: "feed", error: nil)], now: now)
    }

    /// Everything a repository reads back, as text (the records are not Equatable; tokens are opened).
    func snapshot(_ b: Backend, vault: TokenVault) async throws -> [String] {
        let connection = try #require(try await b.connections(vault).connection(org))
        let quota = try await b.quota.load(month: month, budget: 1_000, reservePercent: 10)
        let used = quota.used.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key)=\($0.value)" }
        var lines = [
            "tokens \(connection.tokens.accessToken.value) \(connection.tokens.refreshToken.value) \(connection.generation) \(connection.status) \(connection.realmID)",
            "orgs \(try await b.orgs.list())",
            "counts \(try await b.mappings.counts(org: org))",
            "history \(try await b.history.history(org: org, demandID: "inv-1"))",
            "item \(String(describing: try await b.mappings.item(realmID: realm, name: "Services")))",
            "feed \(String(describing: try await b.feed.state(realmID: realm))) \(try await b.feed.lossTotals())",
            "links \(try await b.feed.links(realmID: realm, paymentIDs: ["p-1"]))",
            "quota \(quota.budget) \(quota.month) \(quota.refusedByIntuit) \(used) \(try await b.quota.byRealm(month: month, limit: 10))",
            "events \(try await b.webhooks.list(org: nil, status: nil, beforeID: nil, limit: 100))",
            "event counts \(try await b.webhooks.counts())",
            "schedule \(try await b.connections(vault).schedule())",
        ]
        lines += try await b.mappings.list(org: org, kind: nil, status: nil, afterID: 0, limit: 100).map { "mapping \($0)" }
        return lines
    }

    @Test func aFilledStoreReadsBackTheSameThroughThePostgreSQLRepositories() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let vault = TokenVault(key: .generate())
        let sqlite = try Store.open(stateDirectory: try directory.makeDirectory("state"), logger: PostgresTestDatabase.logger)
        try await fill(Backend(sqlite: sqlite), vault: vault)
        let before = try await snapshot(Backend(sqlite: sqlite), vault: vault)
        try sqlite.close()

        let source = try SQLiteImportSource.open(path: sqlite.path)
        defer { source.close() }
        try await PostgresTestDatabase.withSchema { [org, realm, now] schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                let report = try await SQLiteImport.run(from: source, into: store, logger: PostgresTestDatabase.logger)
                let rows = Dictionary(uniqueKeysWithValues: report.tables.map { ($0.name, $0.rows) })
                #expect(rows["qb_configs"] == 2 && rows["qb_webhook_deliveries"] == 2 && rows["qb_webhook_events"] == 3 && rows["qb_invoice_history"] == 2)
                #expect(report.tables.first { $0.name == "qb_webhook_deliveries" }?.bodiesVerified == true)
                #expect(report.tables.firstIndex { $0.name == "qb_webhook_deliveries" }! < report.tables.firstIndex { $0.name == "qb_webhook_events" }!)

                let b = Backend(postgres: store, archiveDirectory: directory.file("archives"))
                let after = try await self.snapshot(b, vault: vault)
                #expect(after.count == before.count)
                for (sqliteLine, postgresLine) in zip(before, after) { #expect(postgresLine == sqliteLine) }

                // Another key does not open the copied tokens: they were copied sealed, not re-sealed
                await #expect(throws: (any Error).self) { try await b.connections(TokenVault(key: .generate())).connection(org) }
                // New rows take ids past the copied ones
                let deliveries = try await PostgresTestDatabase.one("SELECT MAX(id)::bigint FROM qb_webhook_deliveries", as: Int64.self, on: store)
                let outcomes = try await b.webhooks.append([Fixtures.cloudEvents(["d"])])
                #expect(outcomes.count == 1)
                #expect(try await PostgresTestDatabase.one("SELECT MAX(id)::bigint FROM qb_webhook_deliveries", as: Int64.self, on: store) > deliveries)
                let mappings = try await b.mappings.list(org: org, kind: nil, status: nil, afterID: 0, limit: 100)
                let intent = try await b.mappings.intendCreate(org: org, realm: realm, kind: .demand, localID: "inv-3", developmentID: nil, contentHash: Data([3]), now: now)
                let added = try #require(try await b.mappings.find(org: org, realm: realm, kind: .demand, localID: "inv-3"), "\(intent)")
                #expect(mappings.allSatisfy { $0.id < added.id }, "a new mapping's id is past the copied ones")
            }
        }
    }

    /// SQLite's intake leaves a delivery's digest to its extraction (v13): a delivery still listed
    /// when the store is copied gets its digest in PostgreSQL, whose replay check is its unique index,
    /// so a replay after the switch is recognised, not stored twice (F10).
    @Test func aDeliveryNotYetExtractedKeepsItsReplayCheckInPostgreSQL() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let sqlite = try Store.open(stateDirectory: try directory.makeDirectory("state"), logger: PostgresTestDatabase.logger)
        let body = Data(#"{"eventNotifications":[{"realmId":"111","dataChangeEvent":{"entities":[]}}]}"#.utf8)
        let raw = RawDelivery(receivedAt: now, body: body, signature: "sig", remoteAddress: nil)
        let outcomes = try await WebhookRepository(store: sqlite).appendRaw([raw])
        guard case .stored(let id) = outcomes.first else { Issue.record("not stored: \(outcomes)"); return }
        try sqlite.close()
        let source = try SQLiteImportSource.open(path: sqlite.path)
        defer { source.close() }
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                _ = try await SQLiteImport.run(from: source, into: store, logger: PostgresTestDatabase.logger)
                #expect(try await PostgresTestDatabase.one("SELECT body_sha256 FROM qb_webhook_deliveries WHERE id = \(id)", as: Data.self, on: store) == raw.sha256)
                #expect(try await PostgresWebhookRepository(store: store).appendRaw([raw]) == [.duplicate(of: id)])
            }
        }
    }

    @Test func aTargetHoldingDataIsRefusedAndLeftUnchanged() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let vault = TokenVault(key: .generate())
        let sqlite = try Store.open(stateDirectory: try directory.makeDirectory("state"), logger: PostgresTestDatabase.logger)
        try await fill(Backend(sqlite: sqlite), vault: vault)
        try sqlite.close()
        let source = try SQLiteImportSource.open(path: sqlite.path)
        defer { source.close() }
        try await PostgresTestDatabase.withSchema { [other, now] schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                try await PostgresOrgRepository(store: store).ensure(other, now: now)
                await #expect {
                    try await SQLiteImport.run(from: source, into: store, logger: PostgresTestDatabase.logger)
                } throws: { error in
                    "\(error)".contains("already holds data (qb_configs)")
                }
                #expect(try await PostgresTestDatabase.one("SELECT COUNT(*)::bigint FROM qb_configs", as: Int64.self, on: store) == 1)
                #expect(try await PostgresTestDatabase.one("SELECT COUNT(*)::bigint FROM qb_webhook_deliveries", as: Int64.self, on: store) == 0)
                #expect(try await PostgresTestDatabase.one("SELECT COUNT(*)::bigint FROM qb_entity_mappings", as: Int64.self, on: store) == 0)
            }
        }
    }

    @Test func anAbsentStoreAndAHeldWriteLockAreRefused() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let state = try directory.makeDirectory("state")
        #expect {
            try SQLiteImportSource.open(path: state + "/qbsyncd.sqlite")
        } throws: { error in
            "\(error)".contains("there is no SQLite store")
        }
        #expect(!FileManager.default.fileExists(atPath: state + "/qbsyncd.sqlite"), "refusing creates nothing")

        let sqlite = try Store.open(stateDirectory: state, logger: PostgresTestDatabase.logger)
        defer { try? sqlite.close() }  // try?: the test's assertions are what matter
        // Another process's writer, mid-transaction (the lock outlives one access, on purpose).
        var configuration = Configuration()
        configuration.allowsUnsafeTransactions = true
        let writer = try DatabaseQueue(path: sqlite.path, configuration: configuration)
        try writer.inDatabase { db in try db.execute(sql: "BEGIN IMMEDIATE") }
        #expect {
            try SQLiteImportSource.open(path: sqlite.path)
        } throws: { error in
            "\(error)".contains("holds the write lock")
        }
        try writer.inDatabase { db in try db.execute(sql: "ROLLBACK") }
        let source = try SQLiteImportSource.open(path: sqlite.path)
        source.close()
        try writer.close()
    }

    @Test func aDamagedStoreIsRefused() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let state = try directory.makeDirectory("state")
        try Data(repeating: 0x5A, count: 8_192).write(to: URL(fileURLWithPath: state + "/qbsyncd.sqlite"))
        #expect {
            try SQLiteImportSource.open(path: state + "/qbsyncd.sqlite")
        } throws: { error in
            "\(error)".contains("not a readable SQLite database") || "\(error)".contains("is damaged")
        }
    }
}
