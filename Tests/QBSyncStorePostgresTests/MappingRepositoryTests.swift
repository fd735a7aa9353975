import Foundation
import QBSyncCore
import QBSyncStore
@testable import QBSyncStorePostgres
import Testing

/// The mapping repository's calls, the same on both stores.
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(3)))
struct MappingRepositoryTests {
    let now = Fixtures.now
    let org = OrgID("org-map")!
    let realm = Fixtures.realm

    @Test func aCreateIntentKeepsItsRequestIDUntilSyncedAndNeverMakesASecondMapping() async throws {
        try await Backends.each { [org, now, realm] b in
            let first = try await b.mappings.intendCreate(org: org, realm: realm, kind: .demand, localID: "inv-1", developmentID: "dev-1", contentHash: Data([1]), now: now)
            #expect(first.isNew && first.sentContentHash == Data([1]), "\(b)")
            let retry = try await b.mappings.intendCreate(org: org, realm: realm, kind: .demand, localID: "inv-1", developmentID: "dev-1", contentHash: Data([2]), now: now)
            #expect(!retry.isNew && retry.requestID == first.requestID && retry.sentContentHash == Data([1]), "\(b): the retry reuses the first intent")
            #expect(try await b.mappings.find(org: org, realm: realm, kind: .demand, localID: "inv-1")?.pendingRequestID == first.requestID, "\(b)")

            let synced = try await b.mappings.recordSynced(org: org, realm: realm, kind: .demand, localID: "inv-1", state: Fixtures.state(qboID: "77"), now: now)
            #expect(synced.previous == nil && synced.record.qboID == "77" && synced.record.pendingRequestID == nil, "\(b)")
            #expect(synced.record.developmentID == "dev-1" && synced.record.realmID == realm && synced.record.status == .outstanding, "\(b)")

            // Asked again after the create landed: still one mapping, the same QuickBooks record
            _ = try await b.mappings.intendCreate(org: org, realm: realm, kind: .demand, localID: "inv-1", developmentID: "dev-1", contentHash: Data([3]), now: now)
            let listed = try await b.mappings.list(org: org, kind: nil, status: nil, afterID: 0, limit: 10)
            #expect(listed.map(\.qboID) == ["77"] && listed.map(\.id) == [synced.record.id], "\(b)")
            #expect(try await b.mappings.findByQBOID(org: org, realm: realm, qboType: MappingKind.demand.qboType, qboID: "77")?.localID == "inv-1", "\(b)")
            #expect(try await b.mappings.find(org: org, kind: .demand, localID: "inv-1")?.qboID == "77", "\(b)")
            #expect(try await b.mappings.find(org: org, realm: "another-company", kind: .demand, localID: "inv-1") == nil, "\(b)")
        }
    }

    @Test func aStaleStateIsNotStoredAndAStatusChangeReportsThePreviousOne() async throws {
        try await Backends.each { [org, now, realm] b in
            try await b.mappings.recordSynced(org: org, realm: realm, kind: .demand, localID: "inv-1", state: Fixtures.state(qboID: "5", syncToken: "3"), now: now)
            let stale = try await b.mappings.recordSynced(
                org: org, realm: realm, kind: .demand, localID: "inv-1", state: Fixtures.state(qboID: "5", syncToken: "2", status: .paid, balance: 0), now: now
            )
            #expect(stale.previous == nil && stale.record.status == .outstanding && stale.record.syncToken == "3", "\(b): a read that crossed a newer write")
            let paid = try await b.mappings.recordSynced(
                org: org, realm: realm, kind: .demand, localID: "inv-1", state: Fixtures.state(qboID: "5", syncToken: "4", status: .paid, balance: 0),
                now: now
            )
            #expect(paid.previous == .outstanding && paid.record.status == .paid && paid.record.balance == Money(minorUnits: 0), "\(b)")
            #expect(try await b.history.history(org: org, demandID: "inv-1").map(\.status) == [.outstanding, .paid], "\(b): one history row per stored change")
        }
    }

    @Test func aReadThatDiffersFromThePushIsADriftFoundOnce() async throws {
        try await Backends.each { [org, now, realm] b in
            var pushed = Fixtures.state(qboID: "9", syncToken: "1")
            pushed.pushed = PushedFields(["amount": .int(100)])
            try await b.mappings.recordSynced(org: org, realm: realm, kind: .demand, localID: "inv-9", state: pushed, now: now)
            var read = Fixtures.state(qboID: "9", syncToken: "2", history: HistoryNote(kind: .read))
            read.observed = PushedFields(["amount": .int(150)])
            let first = try await b.mappings.recordSynced(org: org, realm: realm, kind: .demand, localID: "inv-9", state: read, now: now)
            #expect(first.driftFound && first.record.drift?.changes.map(\.field) == ["amount"], "\(b)")
            read.syncToken = "3"
            let again = try await b.mappings.recordSynced(org: org, realm: realm, kind: .demand, localID: "inv-9", state: read, now: now.addingTimeInterval(60))
            #expect(!again.driftFound && again.record.drift?.detectedAt == now, "\(b): the same drift, first seen then")
            let rows = try await b.history.history(org: org, demandID: "inv-9")
            #expect(rows.map(\.kind) == ["push", "read", "read"] && rows[1].changes?.map(\.field) == ["amount"] && rows[2].changes == nil, "\(b)")
            #expect(rows[0].contentHash == Data([1, 2, 3]) && rows[1].contentHash == nil, "\(b): a push's row keeps the content hash")
        }
    }

    @Test func markOverdueTurnsOnlyAnOutstandingInvoiceAndNeverOverwritesPaid() async throws {
        try await Backends.each { [org, now, realm] b in
            let late = try await b.mappings.recordSynced(
                org: org, realm: realm, kind: .demand, localID: "late", state: Fixtures.state(qboID: "1", dueDate: "2027-01-01"), now: now
            ).record
            let paid = try await b.mappings.recordSynced(
                org: org, realm: realm, kind: .demand, localID: "paid", state: Fixtures.state(qboID: "2", status: .outstanding, dueDate: "2027-01-01"), now: now
            ).record
            try await b.mappings.recordSynced(org: org, realm: realm, kind: .demand, localID: "future", state: Fixtures.state(qboID: "3", dueDate: "2027-03-01"), now: now)
            #expect(try await b.mappings.newlyOverdue(today: "2027-02-01").map(\.localID) == ["late", "paid"], "\(b)")

            // A payment lands between the pass's choice and its write
            try await b.mappings.recordSynced(
                org: org, realm: realm, kind: .demand, localID: "paid", state: Fixtures.state(qboID: "2", syncToken: "1", status: .paid, balance: 0), now: now
            )
            #expect(try await b.mappings.markOverdue(id: paid.id, today: "2027-02-01", now: now) == nil, "\(b): Paid is never overwritten")
            #expect(try await b.mappings.find(org: org, realm: realm, kind: .demand, localID: "paid")?.status == .paid, "\(b)")
            #expect(try await b.mappings.markOverdue(id: late.id, today: "2027-02-01", now: now)?.status == .overdue, "\(b)")
            #expect(try await b.mappings.markOverdue(id: late.id, today: "2027-02-01", now: now) == nil, "\(b): once")
            let rows = try await b.history.history(org: org, demandID: "late")
            #expect(rows.map(\.kind) == ["push", "overdue"] && rows.last?.detail == "the Overdue pass of 2027-02-01", "\(b)")
            #expect(try await b.mappings.counts(org: org) == SyncCounts(invoices: [.overdue: 1, .paid: 1, .outstanding: 1]), "\(b)")
        }
    }

    @Test func listPagesInInsertionOrderWithItsFilters() async throws {
        try await Backends.each { [org, now, realm] b in
            for index in 1...5 {
                try await b.mappings.recordSynced(
                    org: org, realm: realm, kind: .demand, localID: "inv-\(index)",
                    state: Fixtures.state(qboID: "\(index)", status: index.isMultiple(of: 2) ? .paid : .outstanding), now: now
                )
            }
            try await b.mappings.recordSynced(
                org: org, realm: realm, kind: .development, localID: "dev-1", state: Fixtures.state(qboID: "c1", status: .synced, history: nil), now: now
            )
            _ = try await b.mappings.intendCreate(org: org, realm: realm, kind: .demand, localID: "unsent", developmentID: nil, contentHash: Data(), now: now)
            let page1 = try await b.mappings.list(org: org, kind: .demand, status: nil, afterID: 0, limit: 2)
            let page2 = try await b.mappings.list(org: org, kind: .demand, status: nil, afterID: page1.last!.id, limit: 2)
            let page3 = try await b.mappings.list(org: org, kind: .demand, status: nil, afterID: page2.last!.id, limit: 2)
            #expect((page1 + page2 + page3).map(\.localID) == ["inv-1", "inv-2", "inv-3", "inv-4", "inv-5"], "\(b): no unsent create is listed")
            #expect(try await b.mappings.list(org: org, kind: nil, status: .paid, afterID: 0, limit: 10).map(\.localID) == ["inv-2", "inv-4"], "\(b)")
            #expect(try await b.mappings.list(org: org, kind: .development, status: nil, afterID: 0, limit: 10).map(\.localID) == ["dev-1"], "\(b)")
            #expect(try await b.mappings.counts(org: org) == SyncCounts(customers: 1, invoices: [.outstanding: 3, .paid: 2]), "\(b)")
        }
    }

    @Test func aRefusedCreateForgetsItsRequestIDAndItemsAreReplaced() async throws {
        try await Backends.each { [org, now, realm] b in
            let intent = try await b.mappings.intendCreate(org: org, realm: realm, kind: .demand, localID: "inv-1", developmentID: nil, contentHash: Data(), now: now)
            try await b.mappings.recordError(org: org, realm: realm, kind: .demand, localID: "inv-1", error: "timeout", now: now)
            #expect(try await b.mappings.find(org: org, realm: realm, kind: .demand, localID: "inv-1")?.pendingRequestID == intent.requestID, "\(b)")
            try await b.mappings.recordError(org: org, realm: realm, kind: .demand, localID: "inv-1", error: "refused", refused: true, now: now)
            let record = try #require(try await b.mappings.find(org: org, realm: realm, kind: .demand, localID: "inv-1"))
            #expect(record.pendingRequestID == nil && record.lastError == "refused", "\(b)")

            #expect(try await b.mappings.item(realmID: realm, name: "Service") == nil, "\(b)")
            try await b.mappings.storeItem(realmID: realm, name: "Service", itemID: "1")
            try await b.mappings.storeItem(realmID: realm, name: "Service", itemID: "2", incomeAccount: "79")
            let item = try #require(try await b.mappings.item(realmID: realm, name: "Service"))
            #expect(item.id == "2" && item.incomeAccount == "79", "\(b)")
            try await b.quota.count(.event, realmID: realm, month: "2027-01")
            #expect(try await b.mappings.reads(realmID: realm, month: "2027-01") == 1, "\(b)")
            #expect(try await b.mappings.reads(realmID: realm, month: "2027-02") == 0, "\(b)")
        }
    }
}
