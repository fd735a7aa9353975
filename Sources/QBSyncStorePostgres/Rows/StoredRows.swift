import Foundation
import PostgresNIO
import QBSyncCore
import QBSyncStore

/// QBSyncStore's row types read from PostgreSQL rows: the same fields, decoded by column name
/// from the columns each list names (times as the SQLite store keeps them).
enum StoredRows {
    /// The columns of `qb_webhook_events` that ``event(_:)`` reads.
    static let eventColumns = """
        id, received_at, realm_id, org, entity_name, entity_id, operation, last_updated, type, cloud_event_id, status, process_error, resolution, \
        attempts, processed_at
        """

    /// The same columns qualified by the alias `e`, for joins.
    static let eventColumnsOfE = eventColumns.split(separator: ",").map { "e." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", ")

    static func event(_ row: PostgresRow) throws -> EventRecord {
        let cells = row.makeRandomAccess()
        let realmID = try cells["realm_id"].decode(String.self)
        return EventRecord(
            id: try cells["id"].decode(Int64.self), receivedAt: Date(millis: try cells["received_at"].decode(Int64.self)), realmID: realmID,
            org: try cells["org"].decode(String?.self).flatMap(OrgID.init),
            fact: WebhookEventFact(
                realmID: realmID, entityName: try cells["entity_name"].decode(String.self), entityID: try cells["entity_id"].decode(String.self),
                operation: try cells["operation"].decode(String.self), lastUpdated: try cells["last_updated"].decode(String?.self),
                type: try cells["type"].decode(String.self), cloudEventID: try cells["cloud_event_id"].decode(String?.self)
            ),
            status: try cells["status"].decode(String.self), processError: try cells["process_error"].decode(String?.self),
            resolution: try cells["resolution"].decode(String?.self), attempts: Int(try cells["attempts"].decode(Int64.self)),
            processedAt: Date(millis: try cells["processed_at"].decode(Int64?.self))
        )
    }

    /// The columns of `qb_entity_mappings` that ``mapping(_:)`` reads.
    static let mappingColumns = """
        id, org, realm_id, kind, local_id, qbo_type, qbo_id, sync_token, status, doc_number, total_minor, balance_minor, due_date, last_synced_at, \
        last_error, content_hash, pending_request_id, development_id, qbo_state, qbo_updated_at, pushed_fields, drift, pending_updates
        """

    /// A mapping, or nil for a row no current type can read (as the SQLite store skips it).
    static func mapping(_ row: PostgresRow) throws -> MappingRecord? {
        let cells = row.makeRandomAccess()
        guard let org = OrgID(try cells["org"].decode(String.self)), let kind = MappingKind(rawValue: try cells["kind"].decode(String.self)),
            let status = EntityStatus(rawValue: try cells["status"].decode(String.self))
        else { return nil }
        return MappingRecord(
            id: try cells["id"].decode(Int64.self), org: org, kind: kind, localID: try cells["local_id"].decode(String.self),
            qboType: try cells["qbo_type"].decode(String.self), qboID: try cells["qbo_id"].decode(String?.self),
            syncToken: try cells["sync_token"].decode(String?.self), status: status, docNumber: try cells["doc_number"].decode(String?.self),
            total: try cells["total_minor"].decode(Int64?.self).map(Money.init(minorUnits:)),
            balance: try cells["balance_minor"].decode(Int64?.self).map(Money.init(minorUnits:)), dueDate: try cells["due_date"].decode(String?.self),
            lastSyncedAt: Date(seconds: try cells["last_synced_at"].decode(Int64?.self)), lastError: try cells["last_error"].decode(String?.self),
            contentHash: try cells["content_hash"].decode(Data?.self), pendingRequestID: try cells["pending_request_id"].decode(String?.self),
            developmentID: try cells["development_id"].decode(String?.self),
            qboState: QBOState(rawValue: try cells["qbo_state"].decode(String.self)) ?? .active,
            qboUpdatedAt: Date(seconds: try cells["qbo_updated_at"].decode(Int64?.self)),
            realmID: nonEmpty(try cells["realm_id"].decode(String.self)),
            pushed: StoredJSON.decode(PushedFields.self, try cells["pushed_fields"].decode(String?.self)),
            drift: StoredJSON.decode(Drift.self, try cells["drift"].decode(String?.self)),
            pendingUpdates: StoredJSON.decode([PendingUpdate].self, try cells["pending_updates"].decode(String?.self)) ?? []
        )
    }

    /// The columns of `qb_invoice_history` that ``history(_:)`` reads (qualified by `h` for joins).
    static let historyColumns = """
        h.id, h.at, h.org, h.demand_id, h.realm_id, h.qbo_id, h.kind, h.status, h.sync_token, h.request_id, h.content_hash, h.total_minor, \
        h.balance_minor, h.due_date, h.doc_number, h.qbo_state, h.qbo_updated_at, h.changes, h.detail
        """

    /// `''` (a mapping from before any company was known) reads as no company, as in SQLite.
    static func nonEmpty(_ text: String) -> String? { text.isEmpty ? nil : text }

    static func history(_ row: PostgresRow) throws -> InvoiceHistoryRow? {
        let cells = row.makeRandomAccess()
        guard let id = try cells["id"].decode(Int64?.self), let org = OrgID(try cells["org"].decode(String.self)),
            let status = EntityStatus(rawValue: try cells["status"].decode(String.self))
        else { return nil }
        return InvoiceHistoryRow(
            id: id, at: Date(millis: try cells["at"].decode(Int64.self)), org: org, demandID: try cells["demand_id"].decode(String.self),
            realmID: try cells["realm_id"].decode(String?.self), qboID: try cells["qbo_id"].decode(String.self), kind: try cells["kind"].decode(String.self),
            status: status, syncToken: try cells["sync_token"].decode(String?.self), requestID: try cells["request_id"].decode(String?.self),
            contentHash: try cells["content_hash"].decode(Data?.self), total: try cells["total_minor"].decode(Int64?.self).map(Money.init(minorUnits:)),
            balance: try cells["balance_minor"].decode(Int64?.self).map(Money.init(minorUnits:)), dueDate: try cells["due_date"].decode(String?.self),
            docNumber: try cells["doc_number"].decode(String?.self), qboState: QBOState(rawValue: try cells["qbo_state"].decode(String.self)) ?? .active,
            qboUpdatedAt: Date(seconds: try cells["qbo_updated_at"].decode(Int64?.self)),
            changes: StoredJSON.decode([FieldChange].self, try cells["changes"].decode(String?.self)), detail: try cells["detail"].decode(String?.self)
        )
    }
}
