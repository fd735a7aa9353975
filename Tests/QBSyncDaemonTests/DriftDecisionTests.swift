import Foundation
import QBSyncCore
@testable import QBSyncDaemon
import QBSyncStore
import Testing

/// ``SyncService/isDrift(_:from:intended:)``: after a stale SyncToken, whether the record was
/// edited in QuickBooks or holds one of qbsyncd's own writes.
@Suite struct DriftDecisionTests {
    func record(pushed: String, pending: [String] = []) -> MappingRecord {
        MappingRecord(
            id: 1, org: OrgID("acme")!, kind: .demand, localID: "dem-1", qboType: "Invoice", qboID: "5", syncToken: "1", status: .outstanding,
            docNumber: nil, total: nil, balance: nil, dueDate: nil, lastSyncedAt: nil, lastError: nil, contentHash: nil, pendingRequestID: nil,
            developmentID: nil, qboState: .active, qboUpdatedAt: nil, pushed: PushedFields(["TotalAmt": .string(pushed)]),
            pendingUpdates: pending.map { PendingUpdate(PushedFields(["TotalAmt": .string($0)])) }
        )
    }

    func fields(_ amount: String) -> PushedFields { PushedFields(["TotalAmt": .string(amount), "status": "Active"]) }

    @Test func anotherValueThanEveryOneOfOursIsDrift() {
        #expect(SyncService.isDrift(fields("999.00"), from: record(pushed: "100.00", pending: ["250.00"]), intended: fields("300.00")))
    }

    @Test func whatWasLastPushedWhatThisPushSetsOrALostUpdateIsNot() {
        #expect(!SyncService.isDrift(fields("100.00"), from: record(pushed: "100.00"), intended: fields("300.00")), "a payment: the pushed fields unchanged")
        #expect(!SyncService.isDrift(fields("300.00"), from: record(pushed: "100.00"), intended: fields("300.00")), "this push, landed before")
        #expect(!SyncService.isDrift(fields("250.00"), from: record(pushed: "100.00", pending: ["250.00"]), intended: fields("300.00")), "a lost update")
        #expect(SyncService.isDrift(fields("250.00"), from: record(pushed: "100.00"), intended: fields("300.00")), "the same, not noted: drift")
    }
}
