public import Foundation
import Logging
import PostgresNIO
public import QBSyncCore
public import QBSyncStore

/// The only way rows leave the append-only webhook log (F10, docs/log-retention.md), in
/// PostgreSQL: the SQLite store's `LogArchiveRepository`. Settled deliveries older than a cutoff,
/// with their events, are written to a file in `directory` (mode 0600 in a 0700 directory),
/// fsync'd, then recorded in `qb_log_archives` (append-only, each row naming the previous one's
/// hash) and deleted, in one transaction; the triggers refuse the DELETE of any row no recorded
/// archive covers. Instances archive one after the other (the archive table is locked first), so
/// the chain stays one chain; the files are written where the archiving instance runs.
public struct PostgresLogArchiveRepository: Sendable {
    let store: PostgresStore
    /// Where the archive files are written (the state directory's `archives/`).
    public let directory: String

    public init(store: PostgresStore, directory: String) {
        self.store = store
        self.directory = directory
    }

    /// Archives every settled delivery received before `cutoff`, oldest first, in files of at most
    /// `chunk` deliveries. Stops at the first delivery that is newer, has a pending event or is not extracted yet: the
    /// log keeps one contiguous range of ids.
    public func archive(receivedBefore cutoff: Date, now: Date = Date(), chunk: Int = LogArchiveRepository.chunk) async throws -> [LogArchive] {
        try await LogArchivePlan.run { try await archiveChunk(receivedBefore: cutoff, now: now, chunk: chunk) }
    }

    private func archiveChunk(receivedBefore cutoff: Date, now: Date, chunk: Int) async throws -> LogArchive? {
        let directory = directory
        let cutoffMillis = cutoff.millis
        let logger = store.logger
        return try await store.write { connection -> LogArchive? in
            // Self-conflicting: a second archiver (another instance) waits for this one's commit.
            try await connection.query("LOCK TABLE qb_log_archives IN SHARE ROW EXCLUSIVE MODE", logger: logger)
            func one(_ query: PostgresQuery) async throws -> Int64? {
                try await connection.collect(query, logger: logger, Int64?.self).first ?? nil
            }
            guard let first = try await one("SELECT MIN(id) FROM qb_webhook_deliveries") else { return nil }
            var chunkEnd = first
            if let end = try await one("SELECT id FROM qb_webhook_deliveries WHERE id >= \(first) ORDER BY id LIMIT 1 OFFSET \(Int64(chunk - 1))") {
                chunkEnd = end
            } else if let end = try await one("SELECT MAX(id) FROM qb_webhook_deliveries") {
                chunkEnd = end
            }
            let newer = try await one(
                "SELECT id FROM qb_webhook_deliveries WHERE id BETWEEN \(first) AND \(chunkEnd) AND received_at >= \(cutoffMillis) ORDER BY id LIMIT 1"
            )
            let pending = try await one("SELECT MIN(delivery_id) FROM qb_webhook_events WHERE status = 'pending'")
            let unexpanded = try await one("SELECT MIN(delivery_id) FROM qb_webhook_unexpanded")
            guard let last = LogArchivePlan.range(first: first, chunkEnd: chunkEnd, newer: newer, pending: pending, unexpanded: unexpanded)?.upperBound else {
                return nil
            }
            let previous = try await connection.collect("SELECT sha256 FROM qb_log_archives ORDER BY id DESC LIMIT 1", logger: logger, String.self).first
            let name = LogArchiveFile.name(first: first, last: last)
            let file = try LogArchiveFile(path: directory + "/" + name)
            try file.line(LogArchiveFile.header(previousSHA256: previous, first: first, last: last, receivedBefore: cutoff, createdAt: now))
            var events: [Int64: [JSONValue]] = [:]
            var eventCount = 0
            for try await row in try await connection.query(
                "SELECT * FROM qb_webhook_events WHERE delivery_id BETWEEN \(first) AND \(last) ORDER BY id", logger: logger
            ) {
                events[try row.makeRandomAccess()["delivery_id"].decode(Int64.self), default: []].append(try LogArchiveFile.json(row))
                eventCount += 1
            }
            var deliveryCount = 0
            for try await row in try await connection.query(
                "SELECT * FROM qb_webhook_deliveries WHERE id BETWEEN \(first) AND \(last) ORDER BY id", logger: logger
            ) {
                let id = try row.makeRandomAccess()["id"].decode(Int64.self)
                try file.line(LogArchiveFile.delivery(try LogArchiveFile.json(row), events: events[id] ?? []))
                deliveryCount += 1
            }
            let sha256 = try file.finish()
            let createdAt = now.millis
            let id = try await connection.collect(
                """
                INSERT INTO qb_log_archives (created_at, received_before, file, first_delivery_id, last_delivery_id, deliveries, events, sha256, previous_sha256)
                VALUES (\(createdAt), \(cutoffMillis), \(name), \(first), \(last), \(Int64(deliveryCount)), \(Int64(eventCount)), \(sha256), \(previous))
                RETURNING id
                """,
                logger: logger, Int64.self
            ).first
            let deletedEvents = try await one(
                "WITH gone AS (DELETE FROM qb_webhook_events WHERE delivery_id BETWEEN \(first) AND \(last) RETURNING 1) SELECT COUNT(*) FROM gone"
            )
            let deletedDeliveries = try await one(
                "WITH gone AS (DELETE FROM qb_webhook_deliveries WHERE id BETWEEN \(first) AND \(last) RETURNING 1) SELECT COUNT(*) FROM gone"
            )
            try LogArchivePlan.checkDeleted(
                deliveries: Int(deletedDeliveries ?? 0), events: Int(deletedEvents ?? 0), written: (deliveryCount, eventCount)
            )
            guard let id else { throw PostgresStoreInvariant("an archive's INSERT returned no id") }
            return LogArchive(
                id: id, createdAt: Date(millis: createdAt), receivedBefore: Date(millis: cutoffMillis), file: name, firstDeliveryID: first, lastDeliveryID: last,
                deliveries: deliveryCount, events: eventCount, sha256: sha256, previousSHA256: previous
            )
        }
    }

    /// Every recorded archive, oldest first.
    public func list() async throws -> [LogArchive] {
        try await store.rows(
            """
            SELECT id, created_at, received_before, file, first_delivery_id, last_delivery_id, deliveries, events, sha256, previous_sha256
            FROM qb_log_archives ORDER BY id
            """
        ) { row in
            let (id, createdAt, receivedBefore, file, first, last, deliveries, events, sha256, previous) = try row.decode(
                (Int64, Int64, Int64, String, Int64, Int64, Int64, Int64, String, String?).self
            )
            return LogArchive(
                id: id, createdAt: Date(millis: createdAt), receivedBefore: Date(millis: receivedBefore), file: file, firstDeliveryID: first,
                lastDeliveryID: last, deliveries: Int(deliveries), events: Int(events), sha256: sha256, previousSHA256: previous
            )
        }
    }

    /// Checks each archive's file against its recorded hash, and each link of the chain.
    public func verify() async throws -> [LogArchiveCheck] {
        LogArchivePlan.verify(try await list(), directory: directory)
    }
}
