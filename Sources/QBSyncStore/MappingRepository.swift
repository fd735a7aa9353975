public import Foundation
import GRDB
public import QBSyncCore

/// Whether the QBO record still stands.
public enum QBOState: String, Sendable {
    case active, voided, deleted
}

/// One row of `qb_entity_mappings`.
public struct MappingRecord: Sendable {
    public var id: Int64
    public var org: OrgID
    public var kind: MappingKind
    public var localID: String
    public var qboType: String
    public var qboID: String?
    public var syncToken: String?
    public var status: EntityStatus
    public var docNumber: String?
    public var total: Money?
    public var balance: Money?
    public var dueDate: String?
    public var lastSyncedAt: Date?
    public var lastError: String?
    /// Of the content last pushed: an unchanged push makes no API call.
    public var contentHash: Data?
    /// The requestid of a create in flight (stored before the call, reused on every retry).
    public var pendingRequestID: String?
    public var developmentID: String?
    public var qboState: QBOState
    /// QuickBooks' `LastUpdatedTime` of the record as last stored (from a write's answer, a read or the change feed).
    public var qboUpdatedAt: Date?
    /// The QuickBooks company the record is in.
    public var realmID: String? = nil
    /// The QuickBooks-side fields as the last push left them.
    public var pushed: PushedFields? = nil
    /// An edit made in QuickBooks since the last push.
    public var drift: Drift? = nil
    /// Updates sent since the last stored answer (their answers lost, or not yet in).
    public var pendingUpdates: [PendingUpdate] = []

    public init(
        id: Int64, org: OrgID, kind: MappingKind, localID: String, qboType: String, qboID: String?, syncToken: String?, status: EntityStatus,
        docNumber: String?, total: Money?, balance: Money?, dueDate: String?, lastSyncedAt: Date?, lastError: String?, contentHash: Data?,
        pendingRequestID: String?, developmentID: String?, qboState: QBOState, qboUpdatedAt: Date?, realmID: String? = nil,
        pushed: PushedFields? = nil, drift: Drift? = nil, pendingUpdates: [PendingUpdate] = []
    ) {
        self.id = id
        self.org = org
        self.kind = kind
        self.localID = localID
        self.qboType = qboType
        self.qboID = qboID
        self.syncToken = syncToken
        self.status = status
        self.docNumber = docNumber
        self.total = total
        self.balance = balance
        self.dueDate = dueDate
        self.lastSyncedAt = lastSyncedAt
        self.lastError = lastError
        self.contentHash = contentHash
        self.pendingRequestID = pendingRequestID
        self.developmentID = developmentID
        self.qboState = qboState
        self.qboUpdatedAt = qboUpdatedAt
        self.realmID = realmID
        self.pushed = pushed
        self.drift = drift
        self.pendingUpdates = pendingUpdates
    }

    public var mapping: Mapping {
        Mapping(
            org: org, kind: kind, localId: localID, qboType: qboType, qboId: qboID, syncToken: syncToken, status: status, docNumber: docNumber,
            totalAmount: total, balance: balance, dueDate: dueDate, lastSyncedAt: lastSyncedAt, lastError: lastError, realmId: realmID, drift: drift
        )
    }
}

/// What a successful push or read learned about the QBO record.
public struct SyncedState: Sendable {
    public var qboID: String
    public var syncToken: String
    public var status: EntityStatus
    public var docNumber: String?
    public var total: Money?
    public var balance: Money?
    public var dueDate: String?
    public var qboState: QBOState
    public var contentHash: Data?
    /// QuickBooks' `LastUpdatedTime` of this state, when known.
    public var qboUpdatedAt: Date?
    /// Set by a push: the fields it left in QuickBooks (stored; any drift is resolved).
    public var pushed: PushedFields? = nil
    /// Set by a read: the fields QuickBooks holds now, compared with the last push's.
    public var observed: PushedFields? = nil
    /// What the invoice history row of this change says.
    public var history: HistoryNote? = nil

    public init(
        qboID: String, syncToken: String, status: EntityStatus, docNumber: String?, total: Money?, balance: Money?, dueDate: String?, qboState: QBOState,
        contentHash: Data?, qboUpdatedAt: Date? = nil
    ) {
        self.qboUpdatedAt = qboUpdatedAt
        self.qboID = qboID
        self.syncToken = syncToken
        self.status = status
        self.docNumber = docNumber
        self.total = total
        self.balance = balance
        self.dueDate = dueDate
        self.qboState = qboState
        self.contentHash = contentHash
    }
}

/// Invoice counts by status, for `sync.summary`.
public struct SyncCounts: Sendable, Equatable {
    public var customers = 0
    public var invoices: [EntityStatus: Int] = [:]

    public init(customers: Int = 0, invoices: [EntityStatus: Int] = [:]) {
        self.customers = customers
        self.invoices = invoices
    }
}

/// Local entities and their QBO records; each call one transaction.
public struct MappingRepository: Sendable {
    let writer: any DatabaseWriter

    public init(store: Store) { writer = store.writer }

    /// The entity's mapping in the company `realm` (mappings of any other company are never found).
    public func find(org: OrgID, realm: String, kind: MappingKind, localID: String) async throws -> MappingRecord? {
        try await writer.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM qb_entity_mappings WHERE org = ? AND realm_id = ? AND kind = ? AND local_id = ?", arguments: [org.rawValue, realm, kind.rawValue, localID]
            ).flatMap(Self.record)
        }
    }

    /// For operators' views: the entity's mapping in the org's current company, or, while it has
    /// none (disconnected), in the company it was last in.
    public func find(org: OrgID, kind: MappingKind, localID: String) async throws -> MappingRecord? {
        try await writer.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM qb_entity_mappings WHERE org = ? AND kind = ? AND local_id = ? AND \(Self.currentCompany) ORDER BY id DESC LIMIT 1",
                arguments: [org.rawValue, kind.rawValue, localID]
            ).flatMap(Self.record)
        }
    }

    /// The mapping of a QuickBooks record of the company `realm`.
    public func findByQBOID(org: OrgID, realm: String, qboType: String, qboID: String) async throws -> MappingRecord? {
        try await writer.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM qb_entity_mappings WHERE org = ? AND realm_id = ? AND qbo_type = ? AND qbo_id = ?", arguments: [org.rawValue, realm, qboType, qboID]
            ).flatMap(Self.record)
        }
    }

    /// A create in flight: the requestid to send, and the hash of the content it was first sent
    /// with (nil: unknown, an intent stored before 0.2). Intuit answers a repeated requestid with
    /// the first request's result, so content changed since needs an update after the create (F9).
    public struct CreateIntent: Sendable {
        public var requestID: String
        public var sentContentHash: Data?
        /// False when an earlier attempt's intent was reused (its create may have happened).
        public var isNew: Bool

        public init(requestID: String, sentContentHash: Data?, isNew: Bool) {
            self.requestID = requestID
            self.sentContentHash = sentContentHash
            self.isNew = isNew
        }
    }

    /// Records the intent to create the entity in QBO and returns the requestid to send: a create
    /// already in flight keeps its requestid, so a retry (even after a crash) cannot duplicate.
    public func intendCreate(org: OrgID, realm: String, kind: MappingKind, localID: String, developmentID: String?, contentHash: Data, now: Date) async throws -> CreateIntent {
        try await writer.write { db in
            let n = Int64(now.timeIntervalSince1970)
            let key: StatementArguments = [org.rawValue, realm, kind.rawValue, localID]
            try db.execute(
                sql: """
                    INSERT INTO qb_entity_mappings (org, realm_id, kind, local_id, qbo_type, status, development_id, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org, realm_id, kind, local_id) DO NOTHING
                    """,
                arguments: key + [kind.qboType, kind == .development ? "Synced" : "Outstanding", developmentID, n, n]
            )
            if let pending = try Row.fetchOne(
                db, sql: "SELECT pending_request_id, pending_content_hash FROM qb_entity_mappings WHERE org = ? AND realm_id = ? AND kind = ? AND local_id = ?", arguments: key
            ), let requestID = pending["pending_request_id"] as String? {
                return CreateIntent(requestID: requestID, sentContentHash: pending["pending_content_hash"], isNew: false)
            }
            let requestID = UUID().uuidString.lowercased()
            try db.execute(
                sql: "UPDATE qb_entity_mappings SET pending_request_id = ?, pending_content_hash = ?, updated_at = ? WHERE org = ? AND realm_id = ? AND kind = ? AND local_id = ?",
                arguments: [requestID, contentHash, n] + key
            )
            return CreateIntent(requestID: requestID, sentContentHash: contentHash, isNew: true)
        }
    }

    /// Stores what QBO now holds for the entity; returns the record, the status it had before and
    /// whether this change found a new or different drift (an edit made in QuickBooks). An
    /// invoice's change appends its history row in the same transaction.
    /// A state older than the one stored (a lower SyncToken of the same record: a read that
    /// crossed a newer write) is not stored; the stored record comes back with `previous` nil.
    @discardableResult
    public func recordSynced(
        org: OrgID, realm: String, kind: MappingKind, localID: String, state: SyncedState, developmentID: String? = nil, now: Date
    ) async throws -> (record: MappingRecord, previous: EntityStatus?, driftFound: Bool) {
        try await writer.write { db in
            let key: StatementArguments = [org.rawValue, realm, kind.rawValue, localID]
            let stored = try Row.fetchOne(db, sql: "SELECT * FROM qb_entity_mappings WHERE org = ? AND realm_id = ? AND kind = ? AND local_id = ?", arguments: key).flatMap(Self.record)
            let update = SyncedUpdate(row: stored, state: state, now: now)
            if let newer = update.newerStored { return (newer, nil, false) }
            let n = Int64(now.timeIntervalSince1970)
            try db.execute(
                sql: """
                    INSERT INTO qb_entity_mappings (org, realm_id, kind, local_id, qbo_type, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (org, realm_id, kind, local_id) DO NOTHING
                    """,
                arguments: key + [kind.qboType, state.status.rawValue, n, n]
            )
            try db.execute(
                sql: """
                    UPDATE qb_entity_mappings SET qbo_id = ?, sync_token = ?, status = ?, doc_number = ?, total_minor = ?, balance_minor = ?,
                        due_date = ?, qbo_state = ?, content_hash = COALESCE(?, content_hash), pending_request_id = NULL, pending_content_hash = NULL,
                        pending_updates = NULL, last_error = NULL, last_synced_at = ?, development_id = COALESCE(?, development_id), updated_at = ?,
                        qbo_updated_at = COALESCE(?, qbo_updated_at), pushed_fields = ?, drift = ?
                    WHERE org = ? AND realm_id = ? AND kind = ? AND local_id = ?
                    """,
                arguments: [
                    state.qboID, state.syncToken, state.status.rawValue, state.docNumber, state.total?.minorUnits, state.balance?.minorUnits, state.dueDate,
                    state.qboState.rawValue, state.contentHash, n, developmentID, n, state.qboUpdatedAt.map { Int64($0.timeIntervalSince1970) },
                    StoredJSON.text(update.pushed), StoredJSON.text(update.drift),
                ] + key
            )
            let row = try Row.fetchOne(db, sql: "SELECT * FROM qb_entity_mappings WHERE org = ? AND realm_id = ? AND kind = ? AND local_id = ?", arguments: key)
            let record = Self.record(row!)!
            if let history = update.history(kind: kind) {
                try InvoiceHistoryRepository.append(db, record: record, note: history.note, changes: history.changes, at: now)
            }
            return (record, update.previous, update.driftFound)
        }
    }

    /// Records why a push failed. A definitive refusal (`refused`: Intuit answered with a fault,
    /// so nothing was created) also forgets a pending create's requestid: Intuit replays the first
    /// answer to a repeated requestid, so keeping it would refuse the corrected retry for ever.
    public func recordError(org: OrgID, realm: String, kind: MappingKind, localID: String, error: String, refused: Bool = false, now: Date) async throws {
        try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE qb_entity_mappings SET last_error = ?, updated_at = ?,
                        pending_request_id = CASE WHEN ? AND qbo_id IS NULL THEN NULL ELSE pending_request_id END,
                        pending_content_hash = CASE WHEN ? AND qbo_id IS NULL THEN NULL ELSE pending_content_hash END
                    WHERE org = ? AND realm_id = ? AND kind = ? AND local_id = ?
                    """,
                arguments: [error, Int64(now.timeIntervalSince1970), refused, refused, org.rawValue, realm, kind.rawValue, localID]
            )
        }
    }

    /// A page in insertion order after `afterID`: new rows get higher ids, so paging stays
    /// correct while rows are added.
    public func list(org: OrgID, kind: MappingKind?, status: EntityStatus?, afterID: Int64, limit: Int) async throws -> [MappingRecord] {
        try await writer.read { db in
            var sql = "SELECT * FROM qb_entity_mappings WHERE org = ? AND id > ? AND qbo_id IS NOT NULL AND \(Self.currentCompany)"
            var arguments: StatementArguments = [org.rawValue, afterID]
            if let kind {
                sql += " AND kind = ?"
                arguments += [kind.rawValue]
            }
            if let status {
                sql += " AND status = ?"
                arguments += [status.rawValue]
            }
            sql += " ORDER BY id LIMIT ?"
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).compactMap(Self.record)
        }
    }

    public func counts(org: OrgID) async throws -> SyncCounts {
        try await writer.read { db in
            var counts = SyncCounts()
            for row in try Row.fetchAll(db, sql: "SELECT kind, status, COUNT(*) AS n FROM qb_entity_mappings WHERE org = ? AND qbo_id IS NOT NULL AND \(Self.currentCompany) GROUP BY kind, status", arguments: [org.rawValue]) {
                let n: Int = row["n"]
                if (row["kind"] as String) == MappingKind.development.rawValue {
                    counts.customers += n
                } else if let status = EntityStatus(rawValue: row["status"]) {
                    counts.invoices[status, default: 0] += n
                }
            }
            return counts
        }
    }

    /// Outstanding invoices whose due date has passed (for the daily Overdue pass).
    public func newlyOverdue(today: String) async throws -> [MappingRecord] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM qb_entity_mappings WHERE kind = 'demand' AND status = 'Outstanding' AND balance_minor > 0 AND due_date < ? AND \(Self.currentCompany)",
                arguments: [today]
            ).compactMap(Self.record)
        }
    }

    /// The Overdue pass for one invoice: Overdue only if it is still Outstanding with a balance and
    /// a due date before `today` (a payment may have landed since the pass chose it), with its
    /// history row. Returns the record if it turned Overdue.
    public func markOverdue(id: Int64, today: String, now: Date) async throws -> MappingRecord? {
        try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE qb_entity_mappings SET status = 'Overdue', updated_at = ?
                    WHERE id = ? AND kind = 'demand' AND status = 'Outstanding' AND qbo_state = 'active' AND balance_minor > 0 AND due_date < ?
                    """,
                arguments: [Int64(now.timeIntervalSince1970), id, today]
            )
            guard db.changesCount == 1, let record = try Row.fetchOne(db, sql: "SELECT * FROM qb_entity_mappings WHERE id = ?", arguments: [id]).flatMap(Self.record) else {
                return nil
            }
            try InvoiceHistoryRepository.append(db, record: record, note: HistoryNote(kind: .overdue, detail: "the Overdue pass of \(today)"), changes: nil, at: now)
            return record
        }
    }

    /// The row is of the org's current company (or the org has none now: disconnected).
    static let currentCompany = """
        NOT EXISTS (SELECT 1 FROM qb_configs c WHERE c.org = qb_entity_mappings.org AND c.realm_id IS NOT NULL AND c.realm_id != qb_entity_mappings.realm_id)
        """

    // MARK: Items and the read meter

    public func storeItem(realmID: String, name: String, itemID: String, incomeAccount: String? = nil) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO qb_items (realm_id, name, item_id, income_account) VALUES (?, ?, ?, ?)", arguments: [realmID, name, itemID, incomeAccount]
            )
        }
    }

    /// The service item of a company and the income account it posts to (nil: not looked up yet).
    public func item(realmID: String, name: String) async throws -> (id: String, incomeAccount: String?)? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT item_id, income_account FROM qb_items WHERE realm_id = ? AND name = ?", arguments: [realmID, name]).map {
                ($0["item_id"], $0["income_account"])
            }
        }
    }

    public func reads(realmID: String, month: String) async throws -> Int {
        try await writer.read { db in try Int.fetchOne(db, sql: "SELECT reads FROM qb_read_meter WHERE realm_id = ? AND month = ?", arguments: [realmID, month]) ?? 0 }
    }

    static func record(_ row: Row) -> MappingRecord? {
        guard let org = OrgID(row["org"] as String), let kind = MappingKind(rawValue: row["kind"]), let status = EntityStatus(rawValue: row["status"]) else { return nil }
        return MappingRecord(
            id: row["id"], org: org, kind: kind, localID: row["local_id"], qboType: row["qbo_type"], qboID: row["qbo_id"], syncToken: row["sync_token"],
            status: status, docNumber: row["doc_number"], total: (row["total_minor"] as Int64?).map(Money.init(minorUnits:)),
            balance: (row["balance_minor"] as Int64?).map(Money.init(minorUnits:)), dueDate: row["due_date"],
            lastSyncedAt: (row["last_synced_at"] as Int64?).map { Date(timeIntervalSince1970: TimeInterval($0)) }, lastError: row["last_error"],
            contentHash: row["content_hash"], pendingRequestID: row["pending_request_id"], developmentID: row["development_id"],
            qboState: QBOState(rawValue: row["qbo_state"]) ?? .active,
            qboUpdatedAt: (row["qbo_updated_at"] as Int64?).map { Date(timeIntervalSince1970: TimeInterval($0)) },
            realmID: (row["realm_id"] as String?).flatMap { $0.isEmpty ? nil : $0 }, pushed: StoredJSON.decode(PushedFields.self, row["pushed_fields"]), drift: StoredJSON.decode(Drift.self, row["drift"]),
            pendingUpdates: StoredJSON.decode([PendingUpdate].self, row["pending_updates"]) ?? []
        )
    }
}
