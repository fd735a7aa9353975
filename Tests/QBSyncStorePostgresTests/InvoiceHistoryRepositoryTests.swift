import Foundation
import QBSyncCore
import QBSyncStore
@testable import QBSyncStorePostgres
import Testing

/// What `invoice.explain` and `audit.verify` read, the same on both stores.
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(3)))
struct InvoiceHistoryRepositoryTests {
    @Test func anInvoicesEventsIncludeItsLinkedPaymentsAndTheLatestRowIsFound() async throws {
        try await Backends.each { b in
            let now = Fixtures.now
            let org = OrgID("org-hooks")!
            try await WebhookPipelineTests.connect(b)
            try await b.mappings.recordSynced(org: org, realm: Fixtures.realm, kind: .demand, localID: "inv-1", state: Fixtures.state(qboID: "i-a"), now: now)
            try await b.mappings.recordSynced(
                org: org, realm: Fixtures.realm, kind: .demand, localID: "inv-1",
                state: Fixtures.state(qboID: "i-a", syncToken: "1", status: .paid, balance: 0, history: HistoryNote(kind: .feed, detail: "feed")), now: now
            )
            try await b.mappings.recordSynced(
                org: org, realm: Fixtures.realm, kind: .demand, localID: "inv-2", state: Fixtures.state(qboID: "i-b", history: nil), now: now
            )
            var payment = Fixtures.cloudEvents(["p"])
            payment.events[0].entityName = "Payment"
            payment.events[0].entityID = "pay-1"
            _ = try await b.webhooks.append([Fixtures.cloudEvents(["a"]), payment, Fixtures.cloudEvents(["other"])])
            try await b.feed.storeLinks(realmID: Fixtures.realm, paymentID: "pay-1", invoiceIDs: ["i-a"])

            let events = try await b.history.events(realmID: Fixtures.realm, qboID: "i-a")
            #expect(events.map(\.event.fact.entityID) == ["i-a", "pay-1"] && events.allSatisfy { $0.deliveryFormat == "cloudevents" }, "\(b)")
            #expect(events[0].deliveryReceivedAt == now && events[0].deliveryID != events[1].deliveryID, "\(b)")
            #expect(try await b.history.events(realmID: Fixtures.realm, qboID: "i-a", limit: 1).count == 1, "\(b)")

            let rows = try await b.history.history(org: org, demandID: "inv-1")
            #expect(rows.map(\.status) == [.outstanding, .paid] && rows.map(\.kind) == ["push", "feed"] && rows[1].detail == "feed", "\(b)")
            #expect(rows[0].total == Money(minorUnits: 10_000) && rows[0].dueDate == "2027-01-31" && rows[0].at == now && rows[0].realmID == Fixtures.realm, "\(b)")
            let latest = try await b.history.latest(org: org)
            #expect(latest.map(\.demandID) == ["inv-1", "inv-2"] && latest.map(\.stored) == [.paid, .outstanding], "\(b)")
            #expect(latest[0].latest?.id == rows[1].id && latest[1].latest == nil, "\(b): inv-2 has no history row")
            #expect(try await b.history.latest(org: OrgID("org-none")!).isEmpty, "\(b)")
        }
    }
}
