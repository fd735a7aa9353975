public import Foundation
import GRDB
import QBSyncCore

/// One company's change-feed state: where its next read starts, when it was last read, and what
/// the reads found (changes, and those no webhook reported).
public struct FeedState: Sendable, Equatable {
    public var realmID: String
    /// Intuit's `LastUpdatedTime` of the newest change applied (whole seconds).
    public var watermark: Date
    public var lastReadAt: Date?
    public var suspectedLoss: Bool
    public var changes: Int
    public var missed: Int
    public var reads: Int

    public init(realmID: String, watermark: Date, lastReadAt: Date?, suspectedLoss: Bool, changes: Int, missed: Int, reads: Int) {
        self.realmID = realmID
        self.watermark = watermark
        self.lastReadAt = lastReadAt
        self.suspectedLoss = suspectedLoss
        self.changes = changes
        self.missed = missed
        self.reads = reads
    }
}

/// `qb_reconcile_state` (the feed's per-company state) and `qb_payment_links`.
public struct FeedStateRepository: Sendable {
    let writer: any DatabaseWriter

    public init(store: Store) { writer = store.writer }

    public func state(realmID: String) async throws -> FeedState? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM qb_reconcile_state WHERE realm_id = ?", arguments: [realmID]).map(Self.state)
        }
    }

    /// The feed state of every company that has a connected org (never-read ones have none).
    public func connected() async throws -> (companies: [String], states: [FeedState]) {
        try await writer.read { db in
            let realms = try String.fetchAll(db, sql: "SELECT realm_id FROM qb_configs WHERE status = 'connected' AND realm_id IS NOT NULL")
            let states = try Row.fetchAll(
                db, sql: "SELECT s.* FROM qb_reconcile_state s JOIN qb_configs c ON c.realm_id = s.realm_id WHERE c.status = 'connected'"
            ).map(Self.state)
            return (realms, states)
        }
    }

    /// After a read: the new watermark, the read's time, what it found.
    public func recordRead(realmID: String, watermark: Date, at now: Date, addChanges: Int, addMissed: Int, suspectedLoss: Bool) async throws {
        try await writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO qb_reconcile_state (realm_id, checkpoint, changes, missed, last_run_at, suspected_loss, reads) VALUES (?, ?, ?, ?, ?, ?, 1)
                    ON CONFLICT (realm_id) DO UPDATE SET checkpoint = MAX(checkpoint, excluded.checkpoint), changes = changes + excluded.changes,
                        missed = missed + excluded.missed, last_run_at = excluded.last_run_at, suspected_loss = excluded.suspected_loss, reads = reads + 1
                    """,
                arguments: [realmID, Int64(watermark.timeIntervalSince1970), addChanges, addMissed, Int64(now.timeIntervalSince1970), suspectedLoss ? 1 : 0]
            )
        }
    }

    /// Totals over every company: changes the feed found, and those no webhook reported.
    public func lossTotals() async throws -> (changes: Int, missed: Int) {
        try await writer.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT COALESCE(SUM(changes), 0) AS c, COALESCE(SUM(missed), 0) AS m FROM qb_reconcile_state")
            return (row?["c"] ?? 0, row?["m"] ?? 0)
        }
    }

    /// The invoices each payment was seen to pay (kept after the payment is voided or deleted).
    public func links(realmID: String, paymentIDs: [String]) async throws -> [String: Set<String>] {
        guard !paymentIDs.isEmpty else { return [:] }
        return try await writer.read { db in
            var links: [String: Set<String>] = [:]
            let marks = Array(repeating: "?", count: paymentIDs.count).joined(separator: ",")
            for row in try Row.fetchAll(
                db, sql: "SELECT payment_id, invoice_id FROM qb_payment_links WHERE realm_id = ? AND payment_id IN (\(marks))",
                arguments: StatementArguments([realmID] + paymentIDs)
            ) {
                links[row["payment_id"], default: []].insert(row["invoice_id"])
            }
            return links
        }
    }

    public func storeLinks(realmID: String, paymentID: String, invoiceIDs: [String]) async throws {
        guard !invoiceIDs.isEmpty else { return }
        try await writer.write { db in
            for invoiceID in invoiceIDs {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO qb_payment_links (realm_id, payment_id, invoice_id) VALUES (?, ?, ?)", arguments: [realmID, paymentID, invoiceID]
                )
            }
        }
    }

    static func state(_ row: Row) -> FeedState {
        FeedState(
            realmID: row["realm_id"], watermark: Date(timeIntervalSince1970: TimeInterval(row["checkpoint"] as Int64)),
            lastReadAt: (row["last_run_at"] as Int64?).map { Date(timeIntervalSince1970: TimeInterval($0)) }, suspectedLoss: (row["suspected_loss"] as Int) != 0,
            changes: row["changes"], missed: row["missed"], reads: row["reads"]
        )
    }
}
