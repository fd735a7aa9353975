import Foundation
import QBSyncCore
import QBSyncStore
@testable import QBSyncStorePostgres
import Testing

/// Updates sent whose answers were lost, the same on both stores: noted before the call, taken
/// for qbsyncd's own write by a read that shows them, forgotten when a state is stored.
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(3)))
struct PendingUpdateStoreTests {
    let now = Fixtures.now
    let org = OrgID("org-pending")!
    let realm = Fixtures.realm

    @Test func aReadShowingAPendingUpdateIsNotDriftAndAnyStoredStateForgetsThePending() async throws {
        try await Backends.each { [org, now, realm] b in
            var pushed = Fixtures.state(qboID: "9", syncToken: "1")
            pushed.pushed = PushedFields(["amount": "100.00", "due": "2099-12-31"])
            try await b.mappings.recordSynced(org: org, realm: realm, kind: .demand, localID: "inv-9", state: pushed, now: now)

            // Given an update to 250.00 noted before its call, and its answer lost
            try await b.mappings.intendUpdate(org: org, realm: realm, kind: .demand, localID: "inv-9", update: PendingUpdate(PushedFields(["amount": "250.00"])))
            let noted = try await b.mappings.find(org: org, realm: realm, kind: .demand, localID: "inv-9")
            #expect(noted?.pendingUpdates.count == 1, "\(b)")

            // When a read shows it
            var read = Fixtures.state(qboID: "9", syncToken: "2", history: HistoryNote(kind: .read))
            read.observed = PushedFields(["amount": "250.00", "due": "2099-12-31"])
            let first = try await b.mappings.recordSynced(org: org, realm: realm, kind: .demand, localID: "inv-9", state: read, now: now)

            // Then it is not drift: what QuickBooks holds becomes the fingerprint, and the pending is gone
            #expect(!first.driftFound && first.record.drift == nil, "\(b)")
            #expect(first.record.pushed == read.observed && first.record.pendingUpdates.isEmpty, "\(b)")

            // And a later read of something else is drift again, against the new fingerprint
            read.syncToken = "3"
            read.observed = PushedFields(["amount": "250.00", "due": "2099-06-30"])
            let edited = try await b.mappings.recordSynced(org: org, realm: realm, kind: .demand, localID: "inv-9", state: read, now: now)
            #expect(edited.driftFound && edited.record.drift?.changes.map(\.field) == ["due"], "\(b)")
        }
    }

    @Test func onlyAnEntityWithItsRecordNotesUpdatesAndOnlyTheNewestAreKept() async throws {
        try await Backends.each { [org, now, realm] b in
            // No record yet (a create's intent only): nothing is noted
            _ = try await b.mappings.intendCreate(org: org, realm: realm, kind: .demand, localID: "inv-1", developmentID: nil, contentHash: Data([1]), now: now)
            try await b.mappings.intendUpdate(org: org, realm: realm, kind: .demand, localID: "inv-1", update: PendingUpdate(PushedFields(["amount": "1.00"])))
            #expect(try await b.mappings.find(org: org, realm: realm, kind: .demand, localID: "inv-1")?.pendingUpdates.isEmpty == true, "\(b)")

            try await b.mappings.recordSynced(org: org, realm: realm, kind: .demand, localID: "inv-1", state: Fixtures.state(qboID: "1"), now: now)
            for amount in 1...6 {
                try await b.mappings.intendUpdate(
                    org: org, realm: realm, kind: .demand, localID: "inv-1", update: PendingUpdate(PushedFields(["amount": .string("\(amount).00")]))
                )
            }
            let kept = try await b.mappings.find(org: org, realm: realm, kind: .demand, localID: "inv-1")?.pendingUpdates ?? []
            #expect(kept == (3...6).map { PendingUpdate(PushedFields(["amount": .string("\($0).00")])) }, "\(b): the newest \(PendingUpdate.kept)")
        }
    }
}
