import Crypto
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
    /// Why each event that could not be parsed was not: stored as `failed` events, never dropped.
    public var unparsed: [String]

    public init(
        receivedAt: Date, body: Data, signature: String, remoteAddress: String?, format: WebhookPayload.Format, events: [WebhookEventFact], unparsed: [String] = []
    ) {
        self.unparsed = unparsed
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
    /// What settled it: the change-feed read, qbsyncd's own write, …
    public var resolution: String?
    public var attempts: Int
    public var processedAt: Date?

    public init(
        id: Int64, receivedAt: Date, realmID: String, org: OrgID?, fact: WebhookEventFact, status: String, processError: String?,
        resolution: String?, attempts: Int, processedAt: Date?
    ) {
        self.id = id
        self.receivedAt = receivedAt
        self.realmID = realmID
        self.org = org
        self.fact = fact
        self.status = status
        self.processError = processError
        self.resolution = resolution
        self.attempts = attempts
        self.processedAt = processedAt
    }

    /// The protocol's `Event`.
    public var event: JSONValue {
        [
            "id": .int(id), "receivedAt": .string(Timestamp.string(receivedAt)), "realmId": .string(realmID), "org": org.map { .string($0.rawValue) } ?? .null,
            "type": .string(fact.type), "entityName": .string(fact.entityName), "entityId": .string(fact.entityID), "operation": .string(fact.operation),
            "status": .string(status), "processError": processError.map(JSONValue.string) ?? .null,
            "processedAt": processedAt.map { .string(Timestamp.string($0)) } ?? .null, "attempts": .int(Int64(attempts)),
            "resolvedBy": resolution.map(JSONValue.string) ?? .null,
        ]
    }
}

/// The webhook log: deliveries (append-only) and their events (immutable facts, mutable processing).
public struct WebhookRepository: Sendable {
    let writer: any DatabaseWriter
    /// Told of every append's outcome: a failed commit is news of a store that cannot write.
    let health: StoreHealth
    /// Digests committed but not yet in the index (the intake's; ``UndigestedDeliveries``).
    let undigested: UndigestedDeliveries

    public init(store: Store) {
        writer = store.writer
        health = store.health
        undigested = store.undigested
    }

    /// What became of one appended delivery.
    public enum AppendOutcome: Sendable, Equatable {
        /// Stored, with its delivery id.
        case stored(Int64)
        /// An exact replay of a stored delivery (same body, or CloudEvents ids all stored): not
        /// stored again. The delivery it repeats is committed no later than this transaction.
        case duplicate(of: Int64)
    }

    /// Appends deliveries and their events in one transaction (one fsync for the whole batch).
    /// An event whose realm belongs to no org is stored `ignored` with the reason. A delivery that
    /// repeats one already stored, or one earlier in the same batch, is not stored again (F10).
    @discardableResult
    public func append(_ deliveries: [IncomingDelivery]) async throws -> [AppendOutcome] {
        do {
            let outcomes = try await writer.write { db in
                try undigested.loadIfNeeded(db)
                return try deliveries.map { try Self.append($0, undigested: undigested, db: db) }
            }
            health.writeSucceeded()
            return outcomes
        } catch {
            health.writeFailed(error)
            throw error
        }
    }

    private static func append(_ delivery: IncomingDelivery, undigested: UndigestedDeliveries, db: Database) throws -> AppendOutcome {
        let digest = Self.digest(delivery.body)
        if let original = try undigested.delivery(withDigest: digest)
            ?? Int64.fetchOne(db, sql: "SELECT id FROM qb_webhook_deliveries WHERE body_sha256 = ?", arguments: [digest])
        {
            return .duplicate(of: original)
        }
        if let original = try cloudEventReplay(of: delivery.events, unparsed: delivery.unparsed, db: db) { return .duplicate(of: original) }
        let millis = Int64(delivery.receivedAt.timeIntervalSince1970 * 1000)
        try db.execute(
            sql: "INSERT INTO qb_webhook_deliveries (received_at, body, signature, remote_address, format, body_sha256) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [millis, delivery.body, delivery.signature, delivery.remoteAddress, delivery.format.rawValue, digest]
        )
        let deliveryID = db.lastInsertedRowID
        try insertEvents(deliveryID: deliveryID, receivedAt: delivery.receivedAt, events: delivery.events, unparsed: delivery.unparsed, db: db)
        return .stored(deliveryID)
    }

    /// The delivery these CloudEvents repeat, when every one of them (and nothing unparsed) is stored already.
    static func cloudEventReplay(of events: [WebhookEventFact], unparsed: [String], db: Database) throws -> Int64? {
        let ids = events.compactMap(\.cloudEventID)
        guard unparsed.isEmpty, !ids.isEmpty, ids.count == events.count else { return nil }
        var original: Int64?
        for id in ids {
            let statement = try db.cachedStatement(sql: "SELECT delivery_id FROM qb_webhook_events WHERE cloud_event_id = ? ORDER BY id LIMIT 1")
            guard let stored = try Int64.fetchOne(statement, arguments: [id]) else { return nil }
            original = original ?? stored
        }
        return original
    }

    /// A delivery's events: `pending` (or `ignored` when no org has the realm), and each unparsed one `failed`.
    static func insertEvents(deliveryID: Int64, receivedAt: Date, events: [WebhookEventFact], unparsed: [String], db: Database) throws {
        let millis = Int64(receivedAt.timeIntervalSince1970 * 1000)
        for fact in events {
            let org = try String.fetchOne(db.cachedStatement(sql: "SELECT org FROM qb_configs WHERE realm_id = ?"), arguments: [fact.realmID])
            let ignoredBecause: String? = org == nil ? "no organisation is connected to QuickBooks company \(fact.realmID)" : nil
            try db.cachedStatement(
                sql: """
                    INSERT INTO qb_webhook_events (delivery_id, received_at, realm_id, org, entity_name, entity_id, operation, last_updated, type,
                        cloud_event_id, dedupe_key, status, process_error)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(
                arguments: [
                    deliveryID, millis, fact.realmID, org, fact.entityName, fact.entityID, fact.operation, fact.lastUpdated, fact.type,
                    fact.cloudEventID, fact.dedupeKey, ignoredBecause == nil ? "pending" : "ignored", ignoredBecause,
                ]
            )
        }
        for (index, reason) in unparsed.enumerated() {
            try db.execute(
                sql: """
                    INSERT INTO qb_webhook_events (delivery_id, received_at, realm_id, entity_name, entity_id, operation, type, dedupe_key, status, process_error)
                    VALUES (?, ?, '', '', '', '', 'unparsed', ?, 'failed', ?)
                    """,
                arguments: [deliveryID, millis, "unparsed:\(deliveryID):\(index)", "could not be parsed: " + reason]
            )
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

    // MARK: The per-company pipeline

    /// Companies with pending events, and when the oldest of each arrived (to resume after a restart).
    public func pendingRealms() async throws -> [(realmID: String, since: Date)] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT realm_id, MIN(received_at) AS since FROM qb_webhook_events WHERE status = 'pending' GROUP BY realm_id").map {
                ($0["realm_id"], Date(timeIntervalSince1970: TimeInterval($0["since"] as Int64) / 1000))
            }
        }
    }

    /// One company's pending events due for an attempt, in arrival order.
    public func due(realmID: String, now: Date, limit: Int) async throws -> [EventRecord] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM qb_webhook_events WHERE realm_id = ? AND status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
                    ORDER BY id LIMIT ?
                    """,
                arguments: [realmID, Int64(now.timeIntervalSince1970 * 1000), limit]
            ).compactMap(Self.record)
        }
    }

    /// When the company's next pending event is due (nil: none is pending).
    public func nextDue(realmID: String) async throws -> Date? {
        try await writer.read { db in
            try Int64.fetchOne(
                db, sql: "SELECT MIN(COALESCE(next_attempt_at, received_at)) FROM qb_webhook_events WHERE realm_id = ? AND status = 'pending'", arguments: [realmID]
            ).map { Date(timeIntervalSince1970: TimeInterval($0) / 1000) }
        }
    }

    /// When the oldest pending event arrived.
    public func oldestPending() async throws -> Date? {
        try await writer.read { db in
            try Int64.fetchOne(db, sql: "SELECT MIN(received_at) FROM qb_webhook_events WHERE status = 'pending'").map { Date(timeIntervalSince1970: TimeInterval($0) / 1000) }
        }
    }

    /// Settles events in one transaction: each with its status, what resolved it, and an error.
    public func settle(_ outcomes: [(id: Int64, status: String, resolution: String?, error: String?)], now: Date) async throws -> [EventRecord] {
        guard !outcomes.isEmpty else { return [] }
        return try await writer.write { db in
            var settled: [EventRecord] = []
            for outcome in outcomes {
                try db.execute(
                    sql: """
                        UPDATE qb_webhook_events SET status = ?, resolution = ?, process_error = ?, attempts = attempts + 1, processed_at = ?, next_attempt_at = NULL
                        WHERE id = ?
                        """,
                    arguments: [outcome.status, outcome.resolution, outcome.error, Int64(now.timeIntervalSince1970 * 1000), outcome.id]
                )
                if let row = try Row.fetchOne(db, sql: "SELECT * FROM qb_webhook_events WHERE id = ?", arguments: [outcome.id]).flatMap(Self.record) { settled.append(row) }
            }
            return settled
        }
    }

    /// Leaves events pending until `at`, with an attempt counted unless they only wait (for the read budget).
    public func postpone(ids: [Int64], error: String, at: Date, countAttempt: Bool = true) async throws {
        guard !ids.isEmpty else { return }
        try await writer.write { db in
            for id in ids {
                try db.execute(
                    sql: "UPDATE qb_webhook_events SET process_error = ?, attempts = attempts + ?, next_attempt_at = ? WHERE id = ?",
                    arguments: [error, countAttempt ? 1 : 0, Int64(at.timeIntervalSince1970 * 1000), id]
                )
            }
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
            status: row["status"], processError: row["process_error"], resolution: row["resolution"], attempts: row["attempts"],
            processedAt: (row["processed_at"] as Int64?).map { Date(timeIntervalSince1970: TimeInterval($0) / 1000) }
        )
    }
}
