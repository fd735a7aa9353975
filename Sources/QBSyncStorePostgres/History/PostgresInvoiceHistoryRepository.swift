public import Foundation
import Logging
import PostgresNIO
public import QBSyncCore
public import QBSyncStore

/// The append-only history of invoice states (`qb_invoice_history`, refused UPDATE and DELETE by
/// trigger) and what `invoice.explain` and `audit.verify` read from it: the calls of the SQLite
/// store's `InvoiceHistoryRepository`.
public struct PostgresInvoiceHistoryRepository: Sendable {
    let store: PostgresStore

    public init(store: PostgresStore) { self.store = store }

    /// Appends the record's state after a change; called inside the transaction that made it.
    static func append(
        record: MappingRecord, note: HistoryNote, changes: [FieldChange]?, at: Date, on connection: PostgresConnection, logger: Logger
    ) async throws {
        guard let qboID = record.qboID else { return }
        try await connection.query(
            """
            INSERT INTO qb_invoice_history (at, org, demand_id, realm_id, qbo_id, kind, status, sync_token, request_id, content_hash, total_minor,
                balance_minor, due_date, doc_number, qbo_state, qbo_updated_at, changes, detail)
            VALUES (\(at.millis), \(record.org.rawValue), \(record.localID), \(record.realmID), \(qboID), \(note.kind.rawValue), \(record.status.rawValue),
                \(record.syncToken), \(note.requestID), \(note.kind == .push ? record.contentHash : nil), \(record.total?.minorUnits),
                \(record.balance?.minorUnits), \(record.dueDate), \(record.docNumber), \(record.qboState.rawValue), \(record.qboUpdatedAt?.seconds),
                \(StoredJSON.text(changes)), \(note.detail))
            """,
            logger: logger
        )
    }

    /// An invoice's history, oldest first.
    public func history(org: OrgID, demandID: String) async throws -> [InvoiceHistoryRow] {
        try await store.rows(
            "SELECT \(unescaped: StoredRows.historyColumns) FROM qb_invoice_history h WHERE h.org = \(org.rawValue) AND h.demand_id = \(demandID) ORDER BY h.id",
            StoredRows.history
        )
    }

    /// Webhook events about the invoice or a payment linked to it, with their deliveries, oldest first.
    public func events(realmID: String, qboID: String, limit: Int = 1000) async throws -> [InvoiceEventRecord] {
        try await store.rows(
            """
            SELECT \(unescaped: StoredRows.eventColumnsOfE), e.delivery_id, d.received_at AS delivery_received_at, d.format AS delivery_format
            FROM qb_webhook_events e JOIN qb_webhook_deliveries d ON d.id = e.delivery_id
            WHERE e.realm_id = \(realmID) AND ((e.entity_name = 'Invoice' AND e.entity_id = \(qboID))
                OR (e.entity_name = 'Payment' AND e.entity_id IN (SELECT payment_id FROM qb_payment_links WHERE realm_id = \(realmID) AND invoice_id = \(qboID))))
            ORDER BY e.id LIMIT \(Int64(limit))
            """
        ) { row in
            let cells = row.makeRandomAccess()
            return InvoiceEventRecord(
                event: try StoredRows.event(row), deliveryID: try cells["delivery_id"].decode(Int64.self),
                deliveryReceivedAt: Date(millis: try cells["delivery_received_at"].decode(Int64.self)),
                deliveryFormat: try cells["delivery_format"].decode(String.self)
            )
        }
    }

    /// Every synced invoice (of one org, or all) with its stored status and its newest history row.
    public func latest(org: OrgID?) async throws -> [(org: OrgID, demandID: String, stored: EntityStatus, latest: InvoiceHistoryRow?)] {
        try await store.rows(
            """
            SELECT m.org AS m_org, m.local_id AS m_local_id, m.status AS m_status, \(unescaped: StoredRows.historyColumns)
            FROM qb_entity_mappings m
            LEFT JOIN qb_invoice_history h ON h.id = (SELECT MAX(x.id) FROM qb_invoice_history x WHERE x.org = m.org AND x.demand_id = m.local_id)
            WHERE m.kind = 'demand' AND m.qbo_id IS NOT NULL AND (\(org?.rawValue)::text IS NULL OR m.org = \(org?.rawValue))
            ORDER BY m.id
            """
        ) { row -> (org: OrgID, demandID: String, stored: EntityStatus, latest: InvoiceHistoryRow?)? in
            let cells = row.makeRandomAccess()
            guard let org = OrgID(try cells["m_org"].decode(String.self)), let stored = EntityStatus(rawValue: try cells["m_status"].decode(String.self)) else {
                return nil
            }
            return (org, try cells["m_local_id"].decode(String.self), stored, try StoredRows.history(row))
        }
    }
}
