public import Foundation
import PostgresNIO
public import QBSyncCore
public import QBSyncStore

/// The log's reads, as the SQLite store's `WebhookRepository` answers them.
extension PostgresWebhookRepository {
    public func find(id: Int64) async throws -> EventRecord? {
        try await store.rows("SELECT \(unescaped: StoredRows.eventColumns) FROM qb_webhook_events WHERE id = \(id)", StoredRows.event).first
    }

    /// Newest first, before the cursor id; each filter applies only when given.
    public func list(org: OrgID?, status: String?, beforeID: Int64?, limit: Int) async throws -> [EventRecord] {
        try await store.rows(
            """
            SELECT \(unescaped: StoredRows.eventColumns) FROM qb_webhook_events
            WHERE (\(org?.rawValue)::text IS NULL OR org = \(org?.rawValue)) AND (\(status)::text IS NULL OR status = \(status))
                AND (\(beforeID)::bigint IS NULL OR id < \(beforeID))
            ORDER BY id DESC LIMIT \(Int64(limit))
            """,
            StoredRows.event
        )
    }

    public func counts() async throws -> (pending: Int, failed: Int) {
        let rows = try await store.rows(
            "SELECT COUNT(*) FILTER (WHERE status = 'pending'), COUNT(*) FILTER (WHERE status = 'failed') FROM qb_webhook_events"
        ) { row in try row.decode((Int64, Int64).self) }
        return rows.first.map { (Int($0.0), Int($0.1)) } ?? (0, 0)
    }

    /// How many deliveries the log holds.
    public func deliveryCount() async throws -> Int {
        Int(try await store.first("SELECT COUNT(*) FROM qb_webhook_deliveries", as: Int64.self) ?? 0)
    }

    /// Whether an earlier event with the same dedupe key was already handled.
    public func duplicateOf(_ event: EventRecord) async throws -> Int64? {
        try await store.first(
            """
            SELECT id FROM qb_webhook_events WHERE dedupe_key = \(event.fact.dedupeKey) AND id < \(event.id)
                AND status IN ('processed', 'pending', 'failed')
            ORDER BY id LIMIT 1
            """,
            as: Int64.self
        )
    }

    /// Whether a webhook reported a change of this entity received at or after `since`.
    public func reported(realmID: String, entityName: String, entityID: String, since: Date) async throws -> Bool {
        try await store.first(
            """
            SELECT EXISTS (SELECT 1 FROM qb_webhook_events WHERE realm_id = \(realmID) AND entity_name = \(entityName) AND entity_id = \(entityID)
                AND received_at >= \(since.millis))
            """,
            as: Bool.self
        ) ?? false
    }

    // MARK: The per-company pipeline

    /// Companies with pending events, and when the oldest of each arrived (to resume after a restart).
    public func pendingRealms() async throws -> [(realmID: String, since: Date)] {
        try await store.rows("SELECT realm_id, MIN(received_at) FROM qb_webhook_events WHERE status = 'pending' GROUP BY realm_id ORDER BY realm_id") { row in
            let (realmID, since) = try row.decode((String, Int64).self)
            return (realmID: realmID, since: Date(millis: since))
        }
    }

    /// One company's pending events due for an attempt, in arrival order.
    public func due(realmID: String, now: Date, limit: Int) async throws -> [EventRecord] {
        try await store.rows(
            """
            SELECT \(unescaped: StoredRows.eventColumns) FROM qb_webhook_events
            WHERE realm_id = \(realmID) AND status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= \(now.millis))
            ORDER BY id LIMIT \(Int64(limit))
            """,
            StoredRows.event
        )
    }

    /// When the company's next pending event is due (nil: none is pending).
    public func nextDue(realmID: String) async throws -> Date? {
        let next = try await store.first(
            "SELECT MIN(COALESCE(next_attempt_at, received_at)) FROM qb_webhook_events WHERE realm_id = \(realmID) AND status = 'pending'", as: Int64?.self
        )
        return Date(millis: next ?? nil)
    }

    /// When the oldest pending event arrived.
    public func oldestPending() async throws -> Date? {
        let oldest = try await store.first("SELECT MIN(received_at) FROM qb_webhook_events WHERE status = 'pending'", as: Int64?.self)
        return Date(millis: oldest ?? nil)
    }
}
