public import Foundation
import Logging
import PostgresNIO
public import QBSyncCore
public import QBSyncStore

/// Local entities and their QBO records (`qb_entity_mappings`) in PostgreSQL: the calls of the
/// SQLite store's `MappingRepository`, each one transaction. The row a write decides on is locked
/// (`FOR UPDATE`), so two instances deciding on one entity decide one after the other: one create
/// intent per entity, a stale state never stored over a newer one.
public struct PostgresMappingRepository: Sendable {
    let store: PostgresStore

    public init(store: PostgresStore) { self.store = store }

    public typealias CreateIntent = MappingRepository.CreateIntent

    /// The entity's mapping in the company `realm` (mappings of any other company are never found).
    public func find(org: OrgID, realm: String, kind: MappingKind, localID: String) async throws -> MappingRecord? {
        try await store.rows(
            """
            SELECT \(unescaped: StoredRows.mappingColumns) FROM qb_entity_mappings
            WHERE org = \(org.rawValue) AND realm_id = \(realm) AND kind = \(kind.rawValue) AND local_id = \(localID)
            """,
            StoredRows.mapping
        ).first
    }

    /// For operators' views: the entity's mapping in the org's current company, or, while it has
    /// none (disconnected), in the company it was last in.
    public func find(org: OrgID, kind: MappingKind, localID: String) async throws -> MappingRecord? {
        try await store.rows(
            """
            SELECT \(unescaped: StoredRows.mappingColumns) FROM qb_entity_mappings
            WHERE org = \(org.rawValue) AND kind = \(kind.rawValue) AND local_id = \(localID) AND \(unescaped: Self.currentCompany)
            ORDER BY id DESC LIMIT 1
            """,
            StoredRows.mapping
        ).first
    }

    /// The mapping of a QuickBooks record of the company `realm`.
    public func findByQBOID(org: OrgID, realm: String, qboType: String, qboID: String) async throws -> MappingRecord? {
        try await store.rows(
            """
            SELECT \(unescaped: StoredRows.mappingColumns) FROM qb_entity_mappings
            WHERE org = \(org.rawValue) AND realm_id = \(realm) AND qbo_type = \(qboType) AND qbo_id = \(qboID)
            """,
            StoredRows.mapping
        ).first
    }

    /// Records the intent to create the entity in QBO and returns the requestid to send: a create
    /// already in flight keeps its requestid, so a retry (even after a crash, even on another
    /// instance) cannot duplicate.
    public func intendCreate(
        org: OrgID, realm: String, kind: MappingKind, localID: String, developmentID: String?, contentHash: Data, now: Date
    ) async throws -> CreateIntent {
        let logger = store.logger
        return try await store.write { connection in
            let n = now.seconds
            try await connection.query(
                """
                INSERT INTO qb_entity_mappings (org, realm_id, kind, local_id, qbo_type, status, development_id, created_at, updated_at)
                VALUES (\(org.rawValue), \(realm), \(kind.rawValue), \(localID), \(kind.qboType), \(kind == .development ? "Synced" : "Outstanding"),
                    \(developmentID), \(n), \(n))
                ON CONFLICT (org, realm_id, kind, local_id) DO NOTHING
                """,
                logger: logger
            )
            let pending = try await connection.collect(
                """
                SELECT pending_request_id, pending_content_hash FROM qb_entity_mappings
                WHERE org = \(org.rawValue) AND realm_id = \(realm) AND kind = \(kind.rawValue) AND local_id = \(localID) FOR UPDATE
                """,
                logger: logger
            ) { row in try row.decode((String?, Data?).self) }
            if let (requestID, sent) = pending.first, let requestID {
                return CreateIntent(requestID: requestID, sentContentHash: sent, isNew: false)
            }
            let requestID = UUID().uuidString.lowercased()
            try await connection.query(
                """
                UPDATE qb_entity_mappings SET pending_request_id = \(requestID), pending_content_hash = \(contentHash), updated_at = \(n)
                WHERE org = \(org.rawValue) AND realm_id = \(realm) AND kind = \(kind.rawValue) AND local_id = \(localID)
                """,
                logger: logger
            )
            return CreateIntent(requestID: requestID, sentContentHash: contentHash, isNew: true)
        }
    }

    /// Records why a push failed. A definitive refusal (`refused`) also forgets a pending create's
    /// requestid (Intuit replays the first answer to a repeated requestid).
    public func recordError(org: OrgID, realm: String, kind: MappingKind, localID: String, error: String, refused: Bool = false, now: Date) async throws {
        try await store.execute(
            """
            UPDATE qb_entity_mappings SET last_error = \(error), updated_at = \(now.seconds),
                pending_request_id = CASE WHEN \(refused) AND qbo_id IS NULL THEN NULL ELSE pending_request_id END,
                pending_content_hash = CASE WHEN \(refused) AND qbo_id IS NULL THEN NULL ELSE pending_content_hash END
            WHERE org = \(org.rawValue) AND realm_id = \(realm) AND kind = \(kind.rawValue) AND local_id = \(localID)
            """
        )
    }

    /// A page in insertion order after `afterID`: new rows get higher ids, so paging stays
    /// correct while rows are added.
    public func list(org: OrgID, kind: MappingKind?, status: EntityStatus?, afterID: Int64, limit: Int) async throws -> [MappingRecord] {
        try await store.rows(
            """
            SELECT \(unescaped: StoredRows.mappingColumns) FROM qb_entity_mappings
            WHERE org = \(org.rawValue) AND id > \(afterID) AND qbo_id IS NOT NULL AND \(unescaped: Self.currentCompany)
                AND (\(kind?.rawValue)::text IS NULL OR kind = \(kind?.rawValue)) AND (\(status?.rawValue)::text IS NULL OR status = \(status?.rawValue))
            ORDER BY id LIMIT \(Int64(limit))
            """,
            StoredRows.mapping
        )
    }

    public func counts(org: OrgID) async throws -> SyncCounts {
        let rows = try await store.rows(
            """
            SELECT kind, status, COUNT(*) FROM qb_entity_mappings WHERE org = \(org.rawValue) AND qbo_id IS NOT NULL AND \(unescaped: Self.currentCompany)
            GROUP BY kind, status
            """
        ) { row in try row.decode((String, String, Int64).self) }
        var customers = 0
        var invoices: [EntityStatus: Int] = [:]
        for (kind, status, n) in rows {
            if kind == MappingKind.development.rawValue {
                customers += Int(n)
            } else if let status = EntityStatus(rawValue: status) {
                invoices[status, default: 0] += Int(n)
            }
        }
        return SyncCounts(customers: customers, invoices: invoices)
    }

    /// Outstanding invoices whose due date has passed (for the daily Overdue pass), in id order.
    public func newlyOverdue(today: String) async throws -> [MappingRecord] {
        try await store.rows(
            """
            SELECT \(unescaped: StoredRows.mappingColumns) FROM qb_entity_mappings
            WHERE kind = 'demand' AND status = 'Outstanding' AND balance_minor > 0 AND due_date < \(today) AND \(unescaped: Self.currentCompany)
            ORDER BY id
            """,
            StoredRows.mapping
        )
    }

    /// The Overdue pass for one invoice: Overdue only if it is still Outstanding with a balance and
    /// a due date before `today` (one conditional UPDATE: a payment committed meanwhile wins), with
    /// its history row. Returns the record if it turned Overdue.
    public func markOverdue(id: Int64, today: String, now: Date) async throws -> MappingRecord? {
        let logger = store.logger
        return try await store.write { connection in
            let records = try await connection.collect(
                """
                UPDATE qb_entity_mappings SET status = 'Overdue', updated_at = \(now.seconds)
                WHERE id = \(id) AND kind = 'demand' AND status = 'Outstanding' AND qbo_state = 'active' AND balance_minor > 0 AND due_date < \(today)
                RETURNING \(unescaped: StoredRows.mappingColumns)
                """,
                logger: logger, StoredRows.mapping
            )
            guard records.count == 1, let record = records.first else { return nil }
            try await PostgresInvoiceHistoryRepository.append(
                record: record, note: HistoryNote(kind: .overdue, detail: "the Overdue pass of \(today)"), changes: nil, at: now, on: connection, logger: logger
            )
            return record
        }
    }

    /// The row is of the org's current company (or the org has none now: disconnected).
    static let currentCompany = """
        NOT EXISTS (SELECT 1 FROM qb_configs c WHERE c.org = qb_entity_mappings.org AND c.realm_id IS NOT NULL AND c.realm_id <> qb_entity_mappings.realm_id)
        """

    // MARK: Items and the read meter

    public func storeItem(realmID: String, name: String, itemID: String, incomeAccount: String? = nil) async throws {
        try await store.execute(
            """
            INSERT INTO qb_items (realm_id, name, item_id, income_account) VALUES (\(realmID), \(name), \(itemID), \(incomeAccount))
            ON CONFLICT (realm_id, name) DO UPDATE SET item_id = EXCLUDED.item_id, income_account = EXCLUDED.income_account
            """
        )
    }

    /// The service item of a company and the income account it posts to (nil: not looked up yet).
    public func item(realmID: String, name: String) async throws -> (id: String, incomeAccount: String?)? {
        try await store.rows("SELECT item_id, income_account FROM qb_items WHERE realm_id = \(realmID) AND name = \(name)") { row in
            try row.decode((String, String?).self)
        }.first.map { (id: $0.0, incomeAccount: $0.1) }
    }

    public func reads(realmID: String, month: String) async throws -> Int {
        Int(try await store.first("SELECT reads FROM qb_read_meter WHERE realm_id = \(realmID) AND month = \(month)", as: Int64.self) ?? 0)
    }
}
