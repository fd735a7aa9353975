import Foundation
import GRDB
public import QBSyncCore

/// Which QuickBooks company an org's mappings belong to, and a move to another one (F1).
///
/// QuickBooks ids are small per-company integers: "Customer 3" exists in every company. So a
/// mapping is kept with its company and only ever looked up in it, and an org that connects to
/// another company either stops (`realm_changed`) or, asked to start afresh, archives the old
/// company's mappings: kept, read-only (the database refuses UPDATE and DELETE), out of every lookup.
enum MappingRealm {
    /// The org's mappings belong to another company than the one it is connecting to.
    struct Changed: Error {
        var previousRealmID: String
    }

    /// Another company that the org's live mappings belong to, if any (the most used one).
    static func otherCompany(_ db: Database, org: OrgID, realmID: String) throws -> String? {
        try String.fetchOne(
            db,
            sql: """
                SELECT realm_id FROM qb_entity_mappings WHERE org = ? AND realm_id NOT IN ('', ?)
                GROUP BY realm_id ORDER BY COUNT(*) DESC LIMIT 1
                """,
            arguments: [org.rawValue, realmID]
        )
    }

    /// Binds the org's mappings to `realmID` as it connects. Mappings made before any company was
    /// known ('': kept from before 0.2) are claimed. Another company's throw ``Changed``, unless
    /// `fresh`: then they, and any unclaimed ones, are archived. Returns how many were archived.
    @discardableResult
    static func bind(_ db: Database, org: OrgID, realmID: String, fresh: Bool, now: Date) throws -> Int {
        if let previous = try otherCompany(db, org: org, realmID: realmID) {
            guard fresh else { throw Changed(previousRealmID: previous) }
            try db.execute(
                sql: """
                    INSERT INTO qb_entity_mappings_archive
                        (id, org, realm_id, kind, local_id, qbo_type, qbo_id, sync_token, status, doc_number, total_minor, balance_minor, due_date,
                         last_synced_at, last_error, content_hash, pending_request_id, pending_content_hash, development_id, qbo_state, qbo_updated_at,
                         pushed_fields, drift, created_at, updated_at, archived_at, archived_for_realm)
                    SELECT id, org, realm_id, kind, local_id, qbo_type, qbo_id, sync_token, status, doc_number, total_minor, balance_minor, due_date,
                         last_synced_at, last_error, content_hash, pending_request_id, pending_content_hash, development_id, qbo_state, qbo_updated_at,
                         pushed_fields, drift, created_at, updated_at, ?, ?
                    FROM qb_entity_mappings WHERE org = ? AND realm_id != ?
                    """,
                arguments: [Int64(now.timeIntervalSince1970), realmID, org.rawValue, realmID]
            )
            try db.execute(sql: "DELETE FROM qb_entity_mappings WHERE org = ? AND realm_id != ?", arguments: [org.rawValue, realmID])
            return db.changesCount
        }
        try db.execute(sql: "UPDATE qb_entity_mappings SET realm_id = ? WHERE org = ? AND realm_id = ''", arguments: [realmID, org.rawValue])
        return 0
    }
}
