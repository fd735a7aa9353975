import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// `qbsyncd --migrate-to`: a daemon that ran on SQLite carries on, on PostgreSQL, where it stopped.
/// Needs a PostgreSQL to move to (`QBSYNCD_TEST_DATABASE_URL`); the daemon before the move runs on
/// SQLite, so the run with `QBSYNCD_TEST_BACKEND=postgres` (every daemon on PostgreSQL) skips it.
@Suite(
    .enabled(if: TestBackend.databaseURL != nil, "QBSYNCD_TEST_DATABASE_URL is not set: run `bash scripts/pg-cluster.sh start` and export what it prints"),
    .enabled(if: !TestBackend.isPostgres, "the store being moved is SQLite: run with the SQLite backend"),
    .timeLimit(.minutes(3))
)
struct MigrateToTests {
    func invoices(_ pair: Pair) async throws -> [JSONValue] {
        try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json["invoices"]?.arrayValue ?? []
    }

    @Test func aSQLiteDaemonMovesToPostgreSQLAndCarriesOn() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        let listen = try await pair.control.call(DaemonStatusCall.self).webhook.listen
        let hook = SimClient(base: "http://\(listen)")

        // Given a daemon on SQLite with a connected org, a customer, an invoice and a webhook event about it
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        let invoice = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput()))
        let qboID = try #require(invoice.qboId)
        let body = #"{"eventNotifications":[{"realmId":"\#(pair.sim.defaultRealmID)","dataChangeEvent":{"entities":[{"name":"Invoice","id":"\#(qboID)","operation":"Update","lastUpdated":"2026-11-25T10:00:00.000Z"}]}}]}"#
        let delivered = try await hook.send(
            .POST, "/api/webhooks/quickbooks", headers: [("intuit-signature", WebhookTests.sign(body)), ("Content-Type", "application/json")], body: Data(body.utf8)
        )
        #expect(delivered.status == 200)
        let events = try await eventually("the webhook event settled") { () -> [JSONValue]? in
            let events = try await pair.control.call(EventListCall.self, .init(org: .test("acme"))).events
            return events.count == 1 && events[0]["status"] != "pending" ? events : nil
        }
        let before = try #require(try await invoices(pair).first)

        // When it stops and its store is moved to a fresh schema
        pair.daemon.signal(SIGTERM)
        #expect(try await pair.daemon.waitForExit() == 0)
        let base = try #require(TestBackend.databaseURL)
        let schema = "mt_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
        let url = base + (base.contains("?") ? "&" : "?") + "schema=\(schema)&pool_max_conns=2"
        let migrated = try await runCommand(Binaries.qbsyncd, ["--migrate-to", url], environment: pair.daemon.environment)
        #expect(migrated.status == 0, "\(migrated.stderr)")
        #expect(migrated.stdout.contains("qb_configs") && migrated.stdout.contains("qb_webhook_deliveries"), "\(migrated.stdout)")
        #expect(migrated.stdout.contains("set QBSYNCD_DATABASE_URL"), "\(migrated.stdout)")
        if let password = URLComponents(string: base)?.password, !password.isEmpty {
            #expect(!migrated.stdout.contains(password) && !migrated.stderr.contains(password), "the URL is shown redacted")
        }
        #expect(!migrated.stdout.contains("ACCESS") && !migrated.stdout.contains("Maple Court"), "no row value is shown")

        // A second run finds data there and refuses: a migration never merges
        let again = try await runCommand(Binaries.qbsyncd, ["--migrate-to", url], environment: pair.daemon.environment)
        #expect(again.status == 1)
        #expect(again.stderr.contains("already holds data"), "\(again.stderr)")

        // Then the daemon started on PostgreSQL (the same state directory and token key) carries on
        try await pair.daemon.start(extraEnvironment: ["QBSYNCD_DATABASE_URL": url])
        let control = try await pair.daemon.connect()
        #expect(pair.daemon.log.contains("store=postgresql"), "the restarted daemon runs on PostgreSQL")
        let orgs = try await control.call(OrgListCall.self, .init()).orgs
        #expect(orgs.map(\.org) == [.test("acme")])
        #expect(orgs.first?.status == .connected && orgs.first?.realmID == pair.sim.defaultRealmID)
        let mapping = try #require(try await control.call(EntityListCall.self, .init(org: .test("acme"), kind: .demand)).entities.first)
        #expect(mapping.qboId == qboID)
        #expect(try await control.call(EventListCall.self, .init(org: .test("acme"))).events == events, "the event log came across")

        // The same demand, edited: the same QuickBooks invoice is updated, none is added
        let updated = try await control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(amounts: ["1300.00"])))
        #expect(updated.qboId == qboID)
        let after = try await invoices(pair)
        #expect(after.count == 1)
        #expect(after.first?["Id"] == before["Id"] && after.first?["SyncToken"] != before["SyncToken"], "updated in place")
        await control.close()
    }
}
