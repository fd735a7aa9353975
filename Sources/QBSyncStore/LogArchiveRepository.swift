import Crypto
public import Foundation
import GRDB
public import QBSyncCore

/// One recorded archive: rows that left the webhook log, and the file that holds them.
public struct LogArchive: Sendable, Equatable {
    public var id: Int64
    public var createdAt: Date
    /// Every row it holds was received before this.
    public var receivedBefore: Date
    /// The file's name in ``LogArchiveRepository/directory``.
    public var file: String
    public var firstDeliveryID: Int64
    public var lastDeliveryID: Int64
    public var deliveries: Int
    public var events: Int
    /// SHA-256 of the file, hex; the file's first line names ``previousSHA256`` (the chain).
    public var sha256: String
    public var previousSHA256: String?

    public init(
        id: Int64, createdAt: Date, receivedBefore: Date, file: String, firstDeliveryID: Int64, lastDeliveryID: Int64, deliveries: Int,
        events: Int, sha256: String, previousSHA256: String?
    ) {
        self.id = id
        self.createdAt = createdAt
        self.receivedBefore = receivedBefore
        self.file = file
        self.firstDeliveryID = firstDeliveryID
        self.lastDeliveryID = lastDeliveryID
        self.deliveries = deliveries
        self.events = events
        self.sha256 = sha256
        self.previousSHA256 = previousSHA256
    }

    /// The protocol's `LogArchive`.
    public var json: JSONValue {
        [
            "id": .int(id), "createdAt": .string(Timestamp.string(createdAt)), "receivedBefore": .string(Timestamp.string(receivedBefore)),
            "file": .string(file), "firstDeliveryId": .int(firstDeliveryID), "lastDeliveryId": .int(lastDeliveryID),
            "deliveries": .int(Int64(deliveries)), "events": .int(Int64(events)), "sha256": .string(sha256),
            "previousSha256": previousSHA256.map(JSONValue.string) ?? .null,
        ]
    }
}

/// What `audit.verify` found of one archive.
public struct LogArchiveCheck: Sendable, Equatable {
    public enum Outcome: String, Sendable {
        /// The file is there and its hash is the recorded one; its chain link holds.
        case verified
        /// The file is not in the archive directory (moved off the host, as docs/log-retention.md allows).
        case missing
        /// The file differs from what was recorded, or the chain is broken.
        case mismatched
    }
    public var archive: LogArchive
    public var outcome: Outcome
    public var detail: String?

    public init(archive: LogArchive, outcome: Outcome, detail: String? = nil) {
        self.archive = archive
        self.outcome = outcome
        self.detail = detail
    }
}

/// The only way rows leave the append-only webhook log (F10, docs/log-retention.md): settled
/// deliveries older than a cutoff, with their events, are written to a file in the state
/// directory's `archives/` (mode 0600 in a 0700 directory: it holds QuickBooks ids and payloads),
/// fsync'd, then recorded in `qb_log_archives` (append-only, each row naming the previous one's
/// hash) and deleted, in one transaction. The database triggers refuse the DELETE of any row no
/// recorded archive covers.
public struct LogArchiveRepository: Sendable {
    let writer: any DatabaseWriter
    /// `<state dir>/archives`.
    public let directory: String
    /// Deliveries per archive file (and per transaction: webhook intake waits at most one chunk).
    public static let chunk = 20_000

    public init(store: Store) {
        writer = store.writer
        directory = (store.path as NSString).deletingLastPathComponent + "/archives"
    }

    /// Archives every settled delivery received before `cutoff`, oldest first, in files of at most
    /// `chunk` deliveries. Stops at the first delivery that is newer, has a pending event or is not extracted yet: the
    /// log keeps one contiguous range of ids.
    public func archive(receivedBefore cutoff: Date, now: Date = Date(), chunk: Int = Self.chunk) async throws -> [LogArchive] {
        try await LogArchivePlan.run { try await archiveChunk(receivedBefore: cutoff, now: now, chunk: chunk) }
    }

    private func archiveChunk(receivedBefore cutoff: Date, now: Date, chunk: Int) async throws -> LogArchive? {
        let directory = directory
        let cutoffMillis = Int64(cutoff.timeIntervalSince1970 * 1000)
        return try await writer.write { db -> LogArchive? in
            guard let first = try Int64.fetchOne(db, sql: "SELECT MIN(id) FROM qb_webhook_deliveries") else { return nil }
            let chunkEnd = try Int64.fetchOne(db, sql: "SELECT id FROM qb_webhook_deliveries WHERE id >= ? ORDER BY id LIMIT 1 OFFSET ?", arguments: [first, chunk - 1])
                ?? Int64.fetchOne(db, sql: "SELECT MAX(id) FROM qb_webhook_deliveries") ?? first
            let newer = try Int64.fetchOne(
                db, sql: "SELECT id FROM qb_webhook_deliveries WHERE id BETWEEN ? AND ? AND received_at >= ? ORDER BY id LIMIT 1", arguments: [first, chunkEnd, cutoffMillis]
            )
            let pending = try Int64.fetchOne(db, sql: "SELECT MIN(delivery_id) FROM qb_webhook_events WHERE status = 'pending'")
            let unexpanded = try Int64.fetchOne(db, sql: "SELECT MIN(delivery_id) FROM qb_webhook_unexpanded")
            guard let last = LogArchivePlan.range(first: first, chunkEnd: chunkEnd, newer: newer, pending: pending, unexpanded: unexpanded)?.upperBound else {
                return nil
            }
            let previous = try String.fetchOne(db, sql: "SELECT sha256 FROM qb_log_archives ORDER BY id DESC LIMIT 1")
            let name = LogArchiveFile.name(first: first, last: last)
            let written = try LogArchiveFile.write(
                db: db, path: directory + "/" + name, first: first, last: last,
                header: LogArchiveFile.header(previousSHA256: previous, first: first, last: last, receivedBefore: cutoff, createdAt: now)
            )
            try db.execute(
                sql: """
                    INSERT INTO qb_log_archives (created_at, received_before, file, first_delivery_id, last_delivery_id, deliveries, events, sha256, previous_sha256)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [Int64(now.timeIntervalSince1970 * 1000), cutoffMillis, name, first, last, written.deliveries, written.events, written.sha256, previous]
            )
            let id = db.lastInsertedRowID
            try db.execute(sql: "DELETE FROM qb_webhook_events WHERE delivery_id BETWEEN ? AND ?", arguments: [first, last])
            let events = db.changesCount
            try db.execute(sql: "DELETE FROM qb_webhook_deliveries WHERE id BETWEEN ? AND ?", arguments: [first, last])
            let deliveries = db.changesCount
            try LogArchivePlan.checkDeleted(deliveries: deliveries, events: events, written: (written.deliveries, written.events))
            return LogArchive(
                id: id, createdAt: Date(timeIntervalSince1970: TimeInterval(Int64(now.timeIntervalSince1970 * 1000)) / 1000),
                receivedBefore: Date(timeIntervalSince1970: TimeInterval(cutoffMillis) / 1000), file: name, firstDeliveryID: first, lastDeliveryID: last, deliveries: deliveries, events: events,
                sha256: written.sha256, previousSHA256: previous
            )
        }
    }

    /// Every recorded archive, oldest first.
    public func list() async throws -> [LogArchive] {
        try await writer.read { db in try Row.fetchAll(db, sql: "SELECT * FROM qb_log_archives ORDER BY id").map(Self.record) }
    }

    /// Checks each archive's file against its recorded hash, and each link of the chain.
    public func verify() async throws -> [LogArchiveCheck] {
        LogArchivePlan.verify(try await list(), directory: directory)
    }

    static func record(_ row: Row) -> LogArchive {
        LogArchive(
            id: row["id"], createdAt: Date(timeIntervalSince1970: TimeInterval(row["created_at"] as Int64) / 1000),
            receivedBefore: Date(timeIntervalSince1970: TimeInterval(row["received_before"] as Int64) / 1000), file: row["file"],
            firstDeliveryID: row["first_delivery_id"], lastDeliveryID: row["last_delivery_id"], deliveries: row["deliveries"], events: row["events"],
            sha256: row["sha256"], previousSHA256: row["previous_sha256"]
        )
    }
}
