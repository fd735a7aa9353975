import Foundation
import QBSyncCore
import QBSyncStore
import Testing
@testable import QBSyncDaemon

/// The Overdue pass's decisions, without a store or a clock.
@Suite struct OverduePassTests {
    func date(_ text: String) throws -> Date { try Date(text, strategy: .iso8601) }

    func turns(status: EntityStatus = .outstanding, state: QBOState = .active, balance: Int64 = 10_000, due: String? = "2026-11-30", today: String = "2026-12-01") -> Bool {
        OverduePass.turnsOverdue(status: status, qboState: state, balance: Money(minorUnits: balance), dueDate: due, today: today)
    }

    @Test func thePassRunsJustAfterEachHourStarts() throws {
        #expect(OverduePass.nextRun(after: try date("2026-12-01T23:59:00Z")) == (try date("2026-12-02T00:00:05Z")))
        #expect(OverduePass.nextRun(after: try date("2026-12-02T00:00:01Z")) == (try date("2026-12-02T00:00:05Z")))
        #expect(OverduePass.nextRun(after: try date("2026-12-02T00:00:05Z")) == (try date("2026-12-02T01:00:05Z")))
    }

    @Test func onlyAnOutstandingActiveInvoiceWithABalanceDueBeforeTodayTurnsOverdue() {
        #expect(turns())
        #expect(!turns(today: "2026-11-30"), "not on its due date")
        #expect(!turns(status: .paid, balance: 0), "a Paid invoice stays Paid")
        #expect(!turns(balance: 0))
        #expect(!turns(state: .voided))
        #expect(!turns(status: .overdue), "already Overdue: no second notification")
        #expect(!turns(due: nil))
    }
}
