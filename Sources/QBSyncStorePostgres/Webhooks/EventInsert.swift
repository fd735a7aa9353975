import Foundation
import Logging
import PostgresNIO
import QBSyncCore
import QBSyncStore

/// One `qb_webhook_events` row to insert: a parsed event (its org found by the insert itself) or
/// an event that could not be parsed (stored `failed`, never dropped).
struct EventInsert: Sendable {
    var deliveryID: Int64
    var receivedAt: Int64
    var realmID: String
    var entityName: String
    var entityID: String
    var operation: String
    var lastUpdated: String?
    var type: String
    var cloudEventID: String?
    var dedupeKey: String
    /// Set for unparsed events; nil lets the org lookup decide (`pending` or `ignored`).
    var fixedStatus: String?
    var fixedError: String?

    static func rows(of delivery: IncomingDelivery, deliveryID: Int64) -> [EventInsert] {
        rows(deliveryID: deliveryID, receivedAt: delivery.receivedAt, events: delivery.events, unparsed: delivery.unparsed)
    }

    /// A delivery's events, then its unparsed ones (`failed`, with the reason), in that order.
    static func rows(deliveryID: Int64, receivedAt: Date, events: [WebhookEventFact], unparsed: [String]) -> [EventInsert] {
        let at = receivedAt.millis
        let parsed = events.map {
            EventInsert(
                deliveryID: deliveryID, receivedAt: at, realmID: $0.realmID, entityName: $0.entityName, entityID: $0.entityID, operation: $0.operation,
                lastUpdated: $0.lastUpdated, type: $0.type, cloudEventID: $0.cloudEventID, dedupeKey: $0.dedupeKey, fixedStatus: nil, fixedError: nil
            )
        }
        let unparsed = unparsed.enumerated().map { index, reason in
            EventInsert(
                deliveryID: deliveryID, receivedAt: at, realmID: "", entityName: "", entityID: "", operation: "", lastUpdated: nil, type: "unparsed",
                cloudEventID: nil, dedupeKey: "unparsed:\(deliveryID):\(index)", fixedStatus: "failed", fixedError: "could not be parsed: " + reason
            )
        }
        return parsed + unparsed
    }

    /// The column types of the VALUES list (every placeholder is cast, so NULLs type too).
    private static let types = ["bigint", "bigint", "text", "text", "text", "text", "text", "text", "text", "text", "text", "text", "bigint"]

    /// One multi-row INSERT … SELECT per 5,000 rows, joined to `qb_configs` for each event's org,
    /// in the given order (the ids rise with it).
    static func insert(_ rows: [EventInsert], on connection: PostgresConnection, logger: Logger) async throws {
        for start in stride(from: 0, to: rows.count, by: 5_000) {
            let chunk = rows[start..<min(start + 5_000, rows.count)]
            var binds = PostgresBindings(capacity: chunk.count * types.count)
            var values: [String] = []
            for (offset, row) in chunk.enumerated() {
                values.append(SQLPlaceholders.row(first: binds.count + 1, types: types))
                binds.append(row.deliveryID)
                binds.append(row.receivedAt)
                binds.append(row.realmID)
                binds.append(row.entityName)
                binds.append(row.entityID)
                binds.append(row.operation)
                binds.append(row.lastUpdated)
                binds.append(row.type)
                binds.append(row.cloudEventID)
                binds.append(row.dedupeKey)
                binds.append(row.fixedStatus)
                binds.append(row.fixedError)
                binds.append(Int64(offset))
            }
            // Only placeholders are spliced into the text; every value travels as a bind.
            let query = PostgresQuery(
                unsafeSQL: """
                    INSERT INTO qb_webhook_events (delivery_id, received_at, realm_id, org, entity_name, entity_id, operation, last_updated, type,
                        cloud_event_id, dedupe_key, status, process_error)
                    SELECT v.delivery_id, v.received_at, v.realm_id, CASE WHEN v.fixed_status IS NULL THEN c.org END, v.entity_name, v.entity_id,
                        v.operation, v.last_updated, v.type, v.cloud_event_id, v.dedupe_key,
                        COALESCE(v.fixed_status, CASE WHEN c.org IS NULL THEN 'ignored' ELSE 'pending' END),
                        COALESCE(v.fixed_error, CASE WHEN c.org IS NULL THEN 'no organisation is connected to QuickBooks company ' || v.realm_id END)
                    FROM (VALUES \(values.joined(separator: ","))) AS v(delivery_id, received_at, realm_id, entity_name, entity_id, operation,
                        last_updated, type, cloud_event_id, dedupe_key, fixed_status, fixed_error, ord)
                    LEFT JOIN qb_configs c ON c.realm_id = v.realm_id AND v.fixed_status IS NULL
                    ORDER BY v.ord
                    """,
                binds: binds
            )
            _ = try await connection.guardedQuery(query, logger: logger)
        }
    }
}

/// Placeholder lists for multi-row statements: `($1,$2,…)`. Only positions go into SQL text.
enum SQLPlaceholders {
    static func row(first: Int, count: Int) -> String {
        "(" + (first..<first + count).map { "$\($0)" }.joined(separator: ",") + ")"
    }

    static func row(first: Int, types: [String]) -> String {
        "(" + types.enumerated().map { "$\(first + $0.offset)::\($0.element)" }.joined(separator: ",") + ")"
    }
}
