public import Foundation
import Logging
import PostgresNIO
public import QBSyncCore
public import QBSyncStore

extension PostgresMappingRepository {
    /// Stores what QBO now holds for the entity; returns the record, the status it had before and
    /// whether this change found a new or different drift (an edit made in QuickBooks). An
    /// invoice's change appends its history row in the same transaction.
    /// A state older than the one stored (a lower SyncToken of the same record: a read that
    /// crossed a newer write) is not stored; the stored record comes back with `previous` nil.
    /// The row is locked from the look to the commit, so a concurrent write of the same entity
    /// (another instance's) is compared with the state this one leaves.
    @discardableResult
    public func recordSynced(
        org: OrgID, realm: String, kind: MappingKind, localID: String, state: SyncedState, developmentID: String? = nil, now: Date
    ) async throws -> (record: MappingRecord, previous: EntityStatus?, driftFound: Bool) {
        let logger = store.logger
        return try await store.write { connection in
            let n = now.seconds
            // A new row is inserted first (with no QBO id: it reads as "nothing stored"), so that
            // there is always a row to lock.
            try await connection.query(
                """
                INSERT INTO qb_entity_mappings (org, realm_id, kind, local_id, qbo_type, status, created_at, updated_at)
                VALUES (\(org.rawValue), \(realm), \(kind.rawValue), \(localID), \(kind.qboType), \(state.status.rawValue), \(n), \(n))
                ON CONFLICT (org, realm_id, kind, local_id) DO NOTHING
                """,
                logger: logger
            )
            let locked = try await connection.collect(
                """
                SELECT \(unescaped: StoredRows.mappingColumns) FROM qb_entity_mappings
                WHERE org = \(org.rawValue) AND realm_id = \(realm) AND kind = \(kind.rawValue) AND local_id = \(localID) FOR UPDATE
                """,
                logger: logger, StoredRows.mapping
            ).first
            // A row just inserted has no QBO id: it holds no state (``SyncedUpdate``).
            let update = SyncedUpdate(row: locked, state: state, now: now)
            if let newer = update.newerStored { return (newer, nil, false) }
            let rows = try await connection.collect(
                """
                UPDATE qb_entity_mappings SET qbo_id = \(state.qboID), sync_token = \(state.syncToken), status = \(state.status.rawValue),
                    doc_number = \(state.docNumber), total_minor = \(state.total?.minorUnits), balance_minor = \(state.balance?.minorUnits),
                    due_date = \(state.dueDate), qbo_state = \(state.qboState.rawValue), content_hash = COALESCE(\(state.contentHash), content_hash),
                    pending_request_id = NULL, pending_content_hash = NULL, pending_updates = NULL, last_error = NULL, last_synced_at = \(n),
                    development_id = COALESCE(\(developmentID), development_id), updated_at = \(n),
                    qbo_updated_at = COALESCE(\(state.qboUpdatedAt?.seconds), qbo_updated_at), pushed_fields = \(StoredJSON.text(update.pushed)),
                    drift = \(StoredJSON.text(update.drift))
                WHERE org = \(org.rawValue) AND realm_id = \(realm) AND kind = \(kind.rawValue) AND local_id = \(localID)
                RETURNING \(unescaped: StoredRows.mappingColumns)
                """,
                logger: logger, StoredRows.mapping
            )
            guard let record = rows.first else { throw PostgresStoreInvariant("a mapping locked for its update was not updated") }
            if let history = update.history(kind: kind) {
                try await PostgresInvoiceHistoryRepository.append(
                    record: record, note: history.note, changes: history.changes, at: now, on: connection, logger: logger
                )
            }
            return (record, update.previous, update.driftFound)
        }
    }
}
