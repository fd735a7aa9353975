public import Foundation
import PostgresNIO
public import QBSyncCore
public import QBSyncStore

extension PostgresMappingRepository {
    /// Notes an update about to be sent for an entity that has its record (``PendingUpdate``), kept
    /// until the next state is stored. The row is locked from the look to the write.
    public func intendUpdate(org: OrgID, realm: String, kind: MappingKind, localID: String, update: PendingUpdate) async throws {
        let logger = store.logger
        try await store.write { connection in
            let rows = try await connection.collect(
                """
                SELECT pending_updates FROM qb_entity_mappings
                WHERE org = \(org.rawValue) AND realm_id = \(realm) AND kind = \(kind.rawValue) AND local_id = \(localID) AND qbo_id IS NOT NULL
                FOR UPDATE
                """,
                logger: logger
            ) { row -> String?? in .some(try row.decode(String?.self)) }  // a NULL list is a row too
            guard let stored = rows.first else { return }
            let pending = PendingUpdate.appending(update, to: StoredJSON.decode([PendingUpdate].self, stored) ?? [])
            try await connection.query(
                """
                UPDATE qb_entity_mappings SET pending_updates = \(StoredJSON.text(pending))
                WHERE org = \(org.rawValue) AND realm_id = \(realm) AND kind = \(kind.rawValue) AND local_id = \(localID)
                """,
                logger: logger
            )
        }
    }
}
