import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// Why an invoice has its status (`invoice.explain`) and the rebuild check (`audit.verify`),
/// from the append-only invoice history.
@Suite(.timeLimit(.minutes(3))) struct ExplainTests {
    @Test func explainListsEveryStepOldestFirstAndTheRule() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        let listen = try await pair.control.call(DaemonStatusCall.self).webhook.listen
        _ = try await pair.http.post("/sim/webhooks/config", json: ["url": .string("http://\(listen)/api/webhooks/quickbooks"), "format": "cloudevents"])
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        let qboID = try #require(try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput())).qboId)
        _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(amounts: ["1300.00"])))
        _ = try await pair.http.post("/sim/webhooks/flush", json: [:])
        _ = try await pair.http.post("/sim/clock", json: ["advanceSeconds": 2])
        _ = try await pair.http.post("/sim/companies/\(pair.sim.defaultRealmID)/invoices/\(qboID)/pay", json: [:])
        _ = try await pair.http.post("/sim/webhooks/flush", json: [:])
        _ = try await eventually(timeout: .seconds(30), "the invoice Paid by the change feed") { () -> Bool? in
            if try await pair.control.call(EntityListCall.self, .init(org: .test("acme"), kind: .demand)).entities.first?.status.rawValue == "Paid" { return true }
            // A delivery that timed out on a loaded machine is sent now, not at the simulator's retry.
            _ = try await pair.http.post("/sim/webhooks/flush", json: [:])
            return nil
        }
        _ = try await pair.control.call(InvoiceRefreshCall.self, DemandParams(org: .test("acme"), demandId: "dem-1"))

        let explained = try await pair.control.call(InvoiceExplainCall.self, DemandParams(org: .test("acme"), demandId: "dem-1"))
        #expect(explained.status == "Paid")
        #expect(explained.rule == "Balance 0 and TotalAmt > 0 → Paid")
        #expect(explained.rebuilt == "Paid")
        #expect(explained.mapping.localId == "dem-1" && explained.mapping.qboId == qboID)
        let chain = explained.chain
        let times = chain.compactMap { $0["at"]?.stringValue }
        #expect(times.count == chain.count && times == times.sorted(), "oldest first")

        // Every push with its requestid, SyncToken and content hash; the feed row; the refresh.
        let states = chain.filter { ["push", "feed", "read", "refresh", "overdue", "deleted"].contains($0["kind"]?.stringValue ?? "") }
        #expect(states.map { $0["kind"]?.stringValue ?? "" } == ["push", "push", "feed", "refresh"], "\(states)")
        let pushes = states.prefix(2)
        #expect(pushes.map { $0["syncToken"] } == ["0", "1"])
        #expect(pushes.allSatisfy { $0["requestId"]?.stringValue?.count == 36 && $0["contentHash"]?.stringValue?.count == 64 })
        #expect(pushes.map { $0["status"] } == ["Outstanding", "Outstanding"])
        #expect(states[2]["status"] == "Paid" && states[2]["balance"] == "0.00" && states[2]["rule"] == "Balance 0 and TotalAmt > 0 → Paid")

        // The webhooks: each delivery and its events (the invoice's own, and the payment linked to it).
        let deliveries = chain.filter { $0["kind"] == "delivery" }
        let events = chain.filter { $0["kind"] == "event" }
        #expect(!deliveries.isEmpty)
        #expect(events.contains { $0["type"] == "invoice.created" && $0["resolvedBy"]?.stringValue?.hasPrefix("qbsyncd's own write") == true }, "\(events)")
        #expect(events.contains { $0["entityName"] == "Payment" && $0["resolvedBy"]?.stringValue?.hasPrefix("change feed read at") == true }, "\(events)")
        let firstEvent = try #require(chain.firstIndex { $0["kind"] == "event" })
        #expect(chain[..<firstEvent].contains { $0["kind"] == "delivery" }, "a delivery comes before its events")

        await #expect { _ = try await pair.control.call(InvoiceExplainCall.self, DemandParams(org: .test("acme"), demandId: "nope")) } throws: { rpcReason($0) == "not_found" }
    }

    @Test func auditVerifyFindsAStatusChangedBehindTheDaemonsBack() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput()))
        let overdue = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(id: "dem-2", docNumber: "SC-2", dueDate: "2020-01-01")))
        #expect(overdue.status.rawValue == "Overdue")
        let clean = try await pair.control.call(AuditVerifyCall.self, .init())
        #expect(clean.checked == 2)
        #expect(clean.mismatches.isEmpty)
        #expect(try await pair.control.call(AuditVerifyCall.self, .init(org: .test("other"))).checked == 0)

        // Someone changes a stored status with sqlite3 (or psql); the history itself refuses to be changed.
        let outcomes = try await TestStore.outcomes(
            pair.daemon, setup: "UPDATE qb_entity_mappings SET status = 'Paid' WHERE kind = 'demand' AND local_id = 'dem-1'", statements: ["UPDATE qb_invoice_history SET status = 'Paid'", "DELETE FROM qb_invoice_history"]
        )
        #expect(outcomes.count == 2 && outcomes.allSatisfy { $0.hasPrefix("refused:") }, "\(outcomes)")

        let audit = try await pair.control.call(AuditVerifyCall.self, .init(org: .test("acme")))
        #expect(audit.checked == 2)
        let mismatches = audit.mismatches
        #expect(mismatches.count == 1)
        #expect(mismatches.first?.org == "acme" && mismatches.first?.demandId == "dem-1")
        #expect(mismatches.first?.stored == "Paid" && mismatches.first?.rebuilt == "Outstanding")
        let explained = try await pair.control.call(InvoiceExplainCall.self, DemandParams(org: .test("acme"), demandId: "dem-1"))
        #expect(explained.status == "Paid" && explained.rebuilt == "Outstanding")
        #expect(explained.rule.hasSuffix("→ Outstanding"))
    }
}
