public import Foundation
import PostgresNIO
import QBSyncCore
public import QBSyncStore

/// `qb_reconcile_state` (the feed's per-company state) and `qb_payment_links` in PostgreSQL: the
/// calls of the SQLite store's `FeedStateRepository`.
public struct PostgresFeedStateRepository: Sendable {
    let store: PostgresStore

    public init(store: PostgresStore) { self.store = store }

    static let columns = "s.realm_id, s.checkpoint, s.last_run_at, s.suspected_loss, s.changes, s.missed, s.reads"

    public func state(realmID: String) async throws -> FeedState? {
        try await store.rows("SELECT \(unescaped: Self.columns) FROM qb_reconcile_state s WHERE s.realm_id = \(realmID)", Self.state).first
    }

    /// The feed state of every company that has a connected org (never-read ones have none).
    public func connected() async throws -> (companies: [String], states: [FeedState]) {
        let logger = store.logger
        return try await store.read { connection in
            let realms = try await connection.collect(
                "SELECT realm_id FROM qb_configs WHERE status = 'connected' AND realm_id IS NOT NULL ORDER BY realm_id", logger: logger, String.self
            )
            let states = try await connection.collect(
                """
                SELECT \(unescaped: Self.columns) FROM qb_reconcile_state s JOIN qb_configs c ON c.realm_id = s.realm_id
                WHERE c.status = 'connected' ORDER BY s.realm_id
                """,
                logger: logger, Self.state
            )
            return (realms, states)
        }
    }

    /// After a read: the new watermark (never moved back), the read's time, what it found.
    public func recordRead(realmID: String, watermark: Date, at now: Date, addChanges: Int, addMissed: Int, suspectedLoss: Bool) async throws {
        try await store.execute(
            """
            INSERT INTO qb_reconcile_state (realm_id, checkpoint, changes, missed, last_run_at, suspected_loss, reads)
            VALUES (\(realmID), \(watermark.seconds), \(Int64(addChanges)), \(Int64(addMissed)), \(now.seconds), \(Int64(suspectedLoss ? 1 : 0)), 1)
            ON CONFLICT (realm_id) DO UPDATE SET checkpoint = GREATEST(qb_reconcile_state.checkpoint, EXCLUDED.checkpoint),
                changes = qb_reconcile_state.changes + EXCLUDED.changes, missed = qb_reconcile_state.missed + EXCLUDED.missed,
                last_run_at = EXCLUDED.last_run_at, suspected_loss = EXCLUDED.suspected_loss, reads = qb_reconcile_state.reads + 1
            """
        )
    }

    /// Totals over every company: changes the feed found, and those no webhook reported.
    public func lossTotals() async throws -> (changes: Int, missed: Int) {
        let totals = try await store.rows("SELECT COALESCE(SUM(changes), 0)::bigint, COALESCE(SUM(missed), 0)::bigint FROM qb_reconcile_state") { row in
            try row.decode((Int64, Int64).self)
        }
        return totals.first.map { (Int($0.0), Int($0.1)) } ?? (0, 0)
    }

    /// The invoices each payment was seen to pay (kept after the payment is voided or deleted).
    public func links(realmID: String, paymentIDs: [String]) async throws -> [String: Set<String>] {
        guard !paymentIDs.isEmpty else { return [:] }
        let rows = try await store.rows(
            "SELECT payment_id, invoice_id FROM qb_payment_links WHERE realm_id = \(realmID) AND payment_id = ANY(\(paymentIDs))"
        ) { row in try row.decode((String, String).self) }
        var links: [String: Set<String>] = [:]
        for (payment, invoice) in rows { links[payment, default: []].insert(invoice) }
        return links
    }

    public func storeLinks(realmID: String, paymentID: String, invoiceIDs: [String]) async throws {
        guard !invoiceIDs.isEmpty else { return }
        try await store.execute(
            """
            INSERT INTO qb_payment_links (realm_id, payment_id, invoice_id) SELECT \(realmID), \(paymentID), invoice FROM unnest(\(invoiceIDs)::text[]) AS invoice
            ON CONFLICT DO NOTHING
            """
        )
    }

    @Sendable static func state(_ row: PostgresRow) throws -> FeedState? {
        let (realmID, checkpoint, lastRun, suspected, changes, missed, reads) = try row.decode((String, Int64, Int64?, Int64, Int64, Int64, Int64).self)
        return FeedState(
            realmID: realmID, watermark: Date(timeIntervalSince1970: TimeInterval(checkpoint)), lastReadAt: Date(seconds: lastRun), suspectedLoss: suspected != 0,
            changes: Int(changes), missed: Int(missed), reads: Int(reads)
        )
    }
}
