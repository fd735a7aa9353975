public import Foundation
import GRDB
public import QBSyncCore

extension MappingRepository {
    /// Notes an update about to be sent for an entity that has its record (``PendingUpdate``), kept
    /// until the next state is stored (``recordSynced(org:realm:kind:localID:state:developmentID:now:)``).
    public func intendUpdate(org: OrgID, realm: String, kind: MappingKind, localID: String, update: PendingUpdate) async throws {
        try await writer.write { db in
            let key: StatementArguments = [org.rawValue, realm, kind.rawValue, localID]
            let entity = "org = ? AND realm_id = ? AND kind = ? AND local_id = ? AND qbo_id IS NOT NULL"
            guard let row = try Row.fetchOne(db, sql: "SELECT pending_updates FROM qb_entity_mappings WHERE \(entity)", arguments: key) else { return }
            let pending = StoredJSON.decode([PendingUpdate].self, row["pending_updates"]) ?? []
            try db.execute(
                sql: "UPDATE qb_entity_mappings SET pending_updates = ? WHERE \(entity)",
                arguments: [StoredJSON.text(PendingUpdate.appending(update, to: pending))] + key
            )
        }
    }
}
