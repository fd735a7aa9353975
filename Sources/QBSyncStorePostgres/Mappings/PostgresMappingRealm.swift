import Foundation
import Logging
import PostgresNIO
import QBSyncCore
import QBSyncStore

/// Which QuickBooks company an org's mappings belong to, and a move to another one (F1): SQLite's
/// `MappingRealm`, on a connection inside the caller's transaction.
enum PostgresMappingRealm {
    /// Another company that the org's live mappings belong to, if any (the most used one).
    static func otherCompany(org: OrgID, realmID: String, on connection: PostgresConnection, logger: Logger) async throws -> String? {
        let rows = try await connection.query(
            """
            SELECT realm_id FROM qb_entity_mappings WHERE org = \(org.rawValue) AND realm_id NOT IN ('', \(realmID))
            GROUP BY realm_id ORDER BY COUNT(*) DESC, realm_id LIMIT 1
            """,
            logger: logger
        )
        for try await realm in rows.decode(String.self) { return realm }
        return nil
    }

    /// Binds the org's mappings to `realmID` as it connects: '' ones are claimed; another
    /// company's throw ``ConnectionRepository/RealmChanged`` unless `fresh`, which archives them
    /// (read-only, out of every lookup) in the caller's transaction. Returns how many were archived.
    @discardableResult
    static func bind(org: OrgID, realmID: String, fresh: Bool, now: Date, on connection: PostgresConnection, logger: Logger) async throws -> Int {
        if let previous = try await otherCompany(org: org, realmID: realmID, on: connection, logger: logger) {
            guard fresh else { throw ConnectionRepository.RealmChanged(previousRealmID: previous) }
            try await connection.query(
                """
                INSERT INTO qb_entity_mappings_archive
                    (id, org, realm_id, kind, local_id, qbo_type, qbo_id, sync_token, status, doc_number, total_minor, balance_minor, due_date,
                     last_synced_at, last_error, content_hash, pending_request_id, pending_content_hash, development_id, qbo_state, qbo_updated_at,
                     pushed_fields, drift, created_at, updated_at, archived_at, archived_for_realm)
                SELECT id, org, realm_id, kind, local_id, qbo_type, qbo_id, sync_token, status, doc_number, total_minor, balance_minor, due_date,
                     last_synced_at, last_error, content_hash, pending_request_id, pending_content_hash, development_id, qbo_state, qbo_updated_at,
                     pushed_fields, drift, created_at, updated_at, \(now.seconds), \(realmID)
                FROM qb_entity_mappings WHERE org = \(org.rawValue) AND realm_id <> \(realmID)
                """,
                logger: logger
            )
            var deleted = 0
            let rows = try await connection.query(
                "DELETE FROM qb_entity_mappings WHERE org = \(org.rawValue) AND realm_id <> \(realmID) RETURNING id", logger: logger
            )
            for try await _ in rows.decode(Int64.self) { deleted += 1 }
            return deleted
        }
        try await connection.query("UPDATE qb_entity_mappings SET realm_id = \(realmID) WHERE org = \(org.rawValue) AND realm_id = ''", logger: logger)
        return 0
    }
}
