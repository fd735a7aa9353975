public import Foundation
import GRDB
public import QBSyncCore

/// A verified delivery, as it is appended.
public struct IncomingDelivery: Sendable {
    public var receivedAt: Date
    public var body: Data
    public var signature: String
    public var remoteAddress: String?
    public var format: WebhookPayload.Format
    public var events: [WebhookEventFact]

    public init(receivedAt: Date, body: Data, signature: String, remoteAddress: String?, format: WebhookPayload.Format, events: [WebhookEventFact]) {
        self.receivedAt = receivedAt
        self.body = body
        self.signature = signature
        self.remoteAddress = remoteAddress
        self.format = format
        self.events = events
    }
}

/// One row of `qb_webhook_events`.
public struct EventRecord: Sendable {
    public var id: Int64
    public var receivedAt: Date
    public var realmID: String
    public var org: OrgID?
    public var fact: WebhookEventFact
    public var status: String
    public var processError: String?
    public var attempts: Int
    public var processedAt: Date?

    /// The protocol's `Event`.
    public var event: JSONValue {
        [
            "id": .int(id), "receivedAt": .string(Timestamp.string(receivedAt)), "realmId": .string(realmID), "org": org.map { .string($0.rawValue) } ?? .null,
            "type": .string(fact.type), "entityName": .string(fact.entityName), "entityId": .string(fact.entityID), "operation": .string(fact.operation),
            "status": .string(status), "processError": processError.map(JSONValue.string) ?? .null,
            "processedAt": processedAt.map { .string(Timestamp.string($0)) } ?? .null, "attempts": .int(Int64(attempts)),
        ]
    }
}

/// The webhook log: deliveries (append-only) and their events (immutable facts, mutable processing).
public struct WebhookRepository: Sendable {
    let writer: any DatabaseWriter

    public init(store: Store) { writer = store.writer }

    /// Appends deliveries and their events in one transaction (one fsync for the whole batch).
    /// An event whose realm belongs to no org is stored `ignored` with the reason.
    public func append(_ deliveries: [IncomingDelivery]) async throws {
        try await writer.write { db in
            for delivery in deliveries {
                let millis = Int64(delivery.receivedAt.timeIntervalSince1970 * 1000)
                try db.execute(
                    sql: "INSERT INTO qb_webhook_deliveries (received_at, body, signature, remote_address, format) VALUES (?, ?, ?, ?, ?)",
                    arguments: [millis, delivery.body, delivery.signature, delivery.remoteAddress, delivery.format.rawValue]
                )
                let deliveryID = db.lastInsertedRowID
                for fact in delivery.events {
                    let org = try String.fetchOne(db, sql: "SELECT org FROM qb_configs WHERE realm_id = ?", arguments: [fact.realmID])
                    let ignoredBecause: String? = org == nil ? "no organisation is connected to QuickBooks company \(fact.realmID)" : nil
                    try db.execute(
                        sql: """
                            INSERT INTO qb_webhook_events (delivery_id, received_at, realm_id, org, entity_name, entity_id, operation, last_updated, type,
                                cloud_event_id, dedupe_key, status, process_error)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [
                            deliveryID, millis, fact.realmID, org, fact.entityName, fact.entityID, fact.operation, fact.lastUpdated, fact.type,
                            fact.cloudEventID, fact.dedupeKey, ignoredBecause == nil ? "pending" : "ignored", ignoredBecause,
                        ]
                    )
                }
            }
        }
    }

    /// Pending events due for an attempt, oldest first.
    public func due(now: Date, limit: Int) async throws -> [EventRecord] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM qb_webhook_events WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id LIMIT ?",
                arguments: [Int64(now.timeIntervalSince1970 * 1000), limit]
            ).compactMap(Self.record)
        }
    }

    /// Whether an earlier event with the same dedupe key was already handled.
    public func duplicateOf(_ event: EventRecord) async throws -> Int64? {
        try await writer.read { db in
            try Int64.fetchOne(
                db, sql: "SELECT id FROM qb_webhook_events WHERE dedupe_key = ? AND id < ? AND status IN ('processed', 'pending', 'failed') ORDER BY id LIMIT 1",
                arguments: [event.fact.dedupeKey, event.id]
            )
        }
    }

    public func finish(id: Int64, status: String, error: String?, now: Date) async throws -> EventRecord? {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE qb_webhook_events SET status = ?, process_error = ?, attempts = attempts + 1, processed_at = ?, next_attempt_at = NULL WHERE id = ?",
                arguments: [status, error, Int64(now.timeIntervalSince1970 * 1000), id]
            )
            return try Row.fetchOne(db, sql: "SELECT * FROM qb_webhook_events WHERE id = ?", arguments: [id]).flatMap(Self.record)
        }
    }

    public func retryLater(id: Int64, error: String, at: Date) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE qb_webhook_events SET process_error = ?, attempts = attempts + 1, next_attempt_at = ? WHERE id = ?",
                arguments: [error, Int64(at.timeIntervalSince1970 * 1000), id]
            )
        }
    }

    /// `event.retry`: back to pending, due now.
    public func requeue(id: Int64) async throws -> Bool {
        try await writer.write { db in
            try db.execute(sql: "UPDATE qb_webhook_events SET status = 'pending', next_attempt_at = NULL WHERE id = ?", arguments: [id])
            return db.changesCount == 1
        }
    }

    public func find(id: Int64) async throws -> EventRecord? {
        try await writer.read { db in try Row.fetchOne(db, sql: "SELECT * FROM qb_webhook_events WHERE id = ?", arguments: [id]).flatMap(Self.record) }
    }

    /// Newest first, before the cursor id.
    public func list(org: OrgID?, status: String?, beforeID: Int64?, limit: Int) async throws -> [EventRecord] {
        try await writer.read { db in
            var sql = "SELECT * FROM qb_webhook_events WHERE 1 = 1"
            var arguments: StatementArguments = []
            if let org {
                sql += " AND org = ?"
                arguments += [org.rawValue]
            }
            if let status {
                sql += " AND status = ?"
                arguments += [status]
            }
            if let beforeID {
                sql += " AND id < ?"
                arguments += [beforeID]
            }
            sql += " ORDER BY id DESC LIMIT ?"
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).compactMap(Self.record)
        }
    }

    public func counts() async throws -> (pending: Int, failed: Int) {
        try await writer.read { db in
            let pending = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM qb_webhook_events WHERE status = 'pending'") ?? 0
            let failed = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM qb_webhook_events WHERE status = 'failed'") ?? 0
            return (pending, failed)
        }
    }

    /// Whether a webhook reported a change of this entity received at or after `since`.
    public func reported(realmID: String, entityName: String, entityID: String, since: Date) async throws -> Bool {
        try await writer.read { db in
            try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM qb_webhook_events WHERE realm_id = ? AND entity_name = ? AND entity_id = ? AND received_at >= ?)",
                arguments: [realmID, entityName, entityID, Int64(since.timeIntervalSince1970 * 1000)]
            ) ?? false
        }
    }

    /// The reconciler's checkpoint (seconds) and loss counts for a company.
    public func reconcileState(realmID: String) async throws -> (checkpoint: Int64, changes: Int, missed: Int)? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT checkpoint, changes, missed FROM qb_reconcile_state WHERE realm_id = ?", arguments: [realmID]).map {
                ($0["checkpoint"], $0["changes"], $0["missed"])
            }
        }
    }

    public func saveReconcileState(realmID: String, checkpoint: Int64, addChanges: Int, addMissed: Int, now: Date) async throws {
        try await writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO qb_reconcile_state (realm_id, checkpoint, changes, missed, last_run_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (realm_id) DO UPDATE SET checkpoint = excluded.checkpoint, changes = changes + excluded.changes,
                        missed = missed + excluded.missed, last_run_at = excluded.last_run_at
                    """,
                arguments: [realmID, checkpoint, addChanges, addMissed, Int64(now.timeIntervalSince1970)]
            )
        }
    }

    /// Totals over every company: changes the feed found, and those no webhook reported.
    public func lossTotals() async throws -> (changes: Int, missed: Int) {
        try await writer.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT COALESCE(SUM(changes), 0) AS c, COALESCE(SUM(missed), 0) AS m FROM qb_reconcile_state")
            return (row?["c"] ?? 0, row?["m"] ?? 0)
        }
    }

    static func record(_ row: Row) -> EventRecord? {
        EventRecord(
            id: row["id"], receivedAt: Date(timeIntervalSince1970: TimeInterval(row["received_at"] as Int64) / 1000), realmID: row["realm_id"],
            org: (row["org"] as String?).flatMap(OrgID.init),
            fact: WebhookEventFact(
                realmID: row["realm_id"], entityName: row["entity_name"], entityID: row["entity_id"], operation: row["operation"],
                lastUpdated: row["last_updated"], type: row["type"], cloudEventID: row["cloud_event_id"]
            ),
            status: row["status"], processError: row["process_error"], attempts: row["attempts"],
            processedAt: (row["processed_at"] as Int64?).map { Date(timeIntervalSince1970: TimeInterval($0) / 1000) }
        )
    }
}
