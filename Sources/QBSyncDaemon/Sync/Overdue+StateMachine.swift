import Foundation
import QBSyncCore
import QBSyncStore

/// When the Overdue pass runs and which invoices it turns Overdue: pure, with the instant injected.
enum OverduePass {
    /// Seconds into each hour at which the pass runs (UTC), so the daily change lands within
    /// minutes of midnight and not up to an hour after it.
    static let offset: TimeInterval = 5

    /// The next run after `now`: `offset` seconds into the next hour.
    static func nextRun(after now: Date) -> Date {
        let hour = (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600
        let candidate = Date(timeIntervalSince1970: hour + offset)
        return candidate > now ? candidate : candidate.addingTimeInterval(3600)
    }

    /// Whether an invoice turns Overdue on `today` (`YYYY-MM-DD`): still Outstanding in
    /// qbsyncd, active in QuickBooks, with a balance, and due before today. The store checks the
    /// same again in the transaction that records it, so a payment landed meanwhile wins.
    static func turnsOverdue(status: EntityStatus, qboState: QBOState, balance: Money?, dueDate: String?, today: String) -> Bool {
        guard status == .outstanding, qboState == .active, let balance, balance.minorUnits > 0, let dueDate else { return false }
        return dueDate < today
    }

    static func turnsOverdue(_ record: MappingRecord, today: String) -> Bool {
        record.kind == .demand && turnsOverdue(status: record.status, qboState: record.qboState, balance: record.balance, dueDate: record.dueDate, today: today)
    }
}
