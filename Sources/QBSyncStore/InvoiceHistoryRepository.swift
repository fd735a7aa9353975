public import Foundation
import GRDB
public import QBSyncCore

/// What changed an invoice's stored state.
public enum InvoiceHistoryKind: String, Sendable {
    /// qbsyncd's push, with the answer QuickBooks gave it.
    case push
    /// A row of the company's change feed, applied.
    case feed
    /// The pipeline (or a push that met a stale SyncToken) read the invoice directly.
    case read
    /// `invoice.refresh`.
    case refresh
    /// The hourly Overdue pass.
    case overdue
    /// QuickBooks answered that the invoice no longer exists.
    case deleted
    /// The state stored when the history began (an upgrade to 0.2).
    case migrated
}

/// What an invoice history row says about its change, beyond the state it leaves.
public struct HistoryNote: Sendable {
    public var kind: InvoiceHistoryKind
    /// The `requestid` a push sent.
    public var requestID: String?
    public var detail: String?

    public init(kind: InvoiceHistoryKind, requestID: String? = nil, detail: String? = nil) {
        self.kind = kind
        self.requestID = requestID
        self.detail = detail
    }
}

/// One row of `qb_invoice_history`: an invoice's stored state after one change.
public struct InvoiceHistoryRow: Sendable {
    public var id: Int64
    public var at: Date
    public var org: OrgID
    public var demandID: String
    public var realmID: String?
    public var qboID: String
    public var kind: String
    public var status: EntityStatus
    public var syncToken: String?
    public var requestID: String?
    public var contentHash: Data?
    public var total: Money?
    public var balance: Money?
    public var dueDate: String?
    public var docNumber: String?
    public var qboState: QBOState
    public var qboUpdatedAt: Date?
    /// The fields found edited in QuickBooks by this change.
    public var changes: [FieldChange]?
    public var detail: String?

    public init(
        id: Int64, at: Date, org: OrgID, demandID: String, realmID: String?, qboID: String, kind: String, status: EntityStatus, syncToken: String?,
        requestID: String?, contentHash: Data?, total: Money?, balance: Money?, dueDate: String?, docNumber: String?, qboState: QBOState,
        qboUpdatedAt: Date?, changes: [FieldChange]?, detail: String?
    ) {
        self.id = id
        self.at = at
        self.org = org
        self.demandID = demandID
        self.realmID = realmID
        self.qboID = qboID
        self.kind = kind
        self.status = status
        self.syncToken = syncToken
        self.requestID = requestID
        self.contentHash = contentHash
        self.total = total
        self.balance = balance
        self.dueDate = dueDate
        self.docNumber = docNumber
        self.qboState = qboState
        self.qboUpdatedAt = qboUpdatedAt
        self.changes = changes
        self.detail = detail
    }

    /// The status this row's facts give on the day it was written, and the rule that gives it.
    /// A `migrated` row has no evidence beyond the status it copied.
    public var rebuilt: (status: EntityStatus, rule: String) {
        if kind == InvoiceHistoryKind.migrated.rawValue { return (status, "as stored when the history began (qbsyncd 0.2) → \(status.rawValue)") }
        return InvoiceStatusRule.evaluate(
            total: total ?? .zero, balance: balance ?? .zero, dueDate: dueDate, gone: qboState != .active, today: String(Timestamp.string(at).prefix(10))
        )
    }
}

/// A webhook event that touched an invoice (about it, or about a payment linked to it), with its delivery.
public struct InvoiceEventRecord: Sendable {
    public var event: EventRecord
    public var deliveryID: Int64
    public var deliveryReceivedAt: Date
    public var deliveryFormat: String

    public init(event: EventRecord, deliveryID: Int64, deliveryReceivedAt: Date, deliveryFormat: String) {
        self.event = event
        self.deliveryID = deliveryID
        self.deliveryReceivedAt = deliveryReceivedAt
        self.deliveryFormat = deliveryFormat
    }
}

/// The append-only history of invoice states (`qb_invoice_history`) and what `invoice.explain`
/// and `audit.verify` read from it.
public struct InvoiceHistoryRepository: Sendable {
    let writer: any DatabaseWriter

    public init(store: Store) { writer = store.writer }

    /// Appends the record's state after a change; called inside the transaction that made it.
    static func append(_ db: Database, record: MappingRecord, note: HistoryNote, changes: [FieldChange]?, at: Date) throws {
        guard let qboID = record.qboID else { return }
        try db.execute(
            sql: """
                INSERT INTO qb_invoice_history (at, org, demand_id, realm_id, qbo_id, kind, status, sync_token, request_id, content_hash, total_minor,
                    balance_minor, due_date, doc_number, qbo_state, qbo_updated_at, changes, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                Int64((at.timeIntervalSince1970 * 1000).rounded(.down)), record.org.rawValue, record.localID, record.realmID, qboID, note.kind.rawValue,
                record.status.rawValue, record.syncToken, note.requestID, note.kind == .push ? record.contentHash : nil, record.total?.minorUnits,
                record.balance?.minorUnits, record.dueDate, record.docNumber, record.qboState.rawValue,
                record.qboUpdatedAt.map { Int64($0.timeIntervalSince1970) }, StoredJSON.text(changes), note.detail,
            ]
        )
    }

    /// An invoice's history, oldest first.
    public func history(org: OrgID, demandID: String) async throws -> [InvoiceHistoryRow] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM qb_invoice_history WHERE org = ? AND demand_id = ? ORDER BY id", arguments: [org.rawValue, demandID])
                .compactMap(Self.row)
        }
    }

    /// Webhook events about the invoice or a payment linked to it, with their deliveries, oldest first.
    public func events(realmID: String, qboID: String, limit: Int = 1000) async throws -> [InvoiceEventRecord] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT e.*, d.received_at AS delivery_received_at, d.format AS delivery_format
                    FROM qb_webhook_events e JOIN qb_webhook_deliveries d ON d.id = e.delivery_id
                    WHERE e.realm_id = ? AND ((e.entity_name = 'Invoice' AND e.entity_id = ?)
                        OR (e.entity_name = 'Payment' AND e.entity_id IN (SELECT payment_id FROM qb_payment_links WHERE realm_id = ? AND invoice_id = ?)))
                    ORDER BY e.id LIMIT ?
                    """,
                arguments: [realmID, qboID, realmID, qboID, limit]
            ).compactMap { row in
                WebhookRepository.record(row).map {
                    InvoiceEventRecord(
                        event: $0, deliveryID: row["delivery_id"], deliveryReceivedAt: Date(timeIntervalSince1970: TimeInterval(row["delivery_received_at"] as Int64) / 1000),
                        deliveryFormat: row["delivery_format"]
                    )
                }
            }
        }
    }

    /// Every synced invoice (of one org, or all) with its stored status and its newest history row.
    public func latest(org: OrgID?) async throws -> [(org: OrgID, demandID: String, stored: EntityStatus, latest: InvoiceHistoryRow?)] {
        try await writer.read { db in
            var sql = """
                SELECT m.org AS m_org, m.local_id AS m_local_id, m.status AS m_status, h.*
                FROM qb_entity_mappings m
                LEFT JOIN qb_invoice_history h ON h.id = (SELECT MAX(x.id) FROM qb_invoice_history x WHERE x.org = m.org AND x.demand_id = m.local_id)
                WHERE m.kind = 'demand' AND m.qbo_id IS NOT NULL
                """
            var arguments: StatementArguments = []
            if let org {
                sql += " AND m.org = ?"
                arguments += [org.rawValue]
            }
            sql += " ORDER BY m.id"
            return try Row.fetchAll(db, sql: sql, arguments: arguments).compactMap { row in
                guard let org = OrgID(row["m_org"] as String), let stored = EntityStatus(rawValue: row["m_status"]) else { return nil }
                let latest = (row["id"] as Int64?) == nil ? nil : Self.row(row)
                return (org, row["m_local_id"], stored, latest)
            }
        }
    }

    static func row(_ row: Row) -> InvoiceHistoryRow? {
        guard let org = OrgID(row["org"] as String), let status = EntityStatus(rawValue: row["status"]) else { return nil }
        return InvoiceHistoryRow(
            id: row["id"], at: Date(timeIntervalSince1970: TimeInterval(row["at"] as Int64) / 1000), org: org, demandID: row["demand_id"],
            realmID: row["realm_id"], qboID: row["qbo_id"], kind: row["kind"], status: status, syncToken: row["sync_token"], requestID: row["request_id"],
            contentHash: row["content_hash"], total: (row["total_minor"] as Int64?).map(Money.init(minorUnits:)),
            balance: (row["balance_minor"] as Int64?).map(Money.init(minorUnits:)), dueDate: row["due_date"], docNumber: row["doc_number"],
            qboState: QBOState(rawValue: row["qbo_state"]) ?? .active,
            qboUpdatedAt: (row["qbo_updated_at"] as Int64?).map { Date(timeIntervalSince1970: TimeInterval($0)) },
            changes: StoredJSON.decode([FieldChange].self, row["changes"]), detail: row["detail"]
        )
    }
}
