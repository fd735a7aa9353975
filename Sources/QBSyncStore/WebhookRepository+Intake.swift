import Crypto
public import Foundation
import GRDB
public import QBSyncCore

/// A verified delivery as the intake commits it: the raw bytes and what was learnt without parsing.
public struct RawDelivery: Sendable {
    public var receivedAt: Date
    public var body: Data
    /// SHA-256 of `body` (F10: an exact replay is recognised by it).
    public var sha256: Data
    public var signature: String
    public var remoteAddress: String?
    /// From the bytes alone, without parsing (``sniffFormat(_:)``).
    public var format: WebhookPayload.Format

    public init(receivedAt: Date, body: Data, sha256: Data, signature: String, remoteAddress: String?, format: WebhookPayload.Format) {
        self.receivedAt = receivedAt
        self.body = body
        self.sha256 = sha256
        self.signature = signature
        self.remoteAddress = remoteAddress
        self.format = format
    }

    /// Digest and format from the bytes alone.
    public init(receivedAt: Date, body: Data, signature: String, remoteAddress: String?) {
        self.init(
            receivedAt: receivedAt, body: body, sha256: WebhookRepository.digest(body), signature: signature, remoteAddress: remoteAddress,
            format: Self.sniffFormat(body)
        )
    }

    /// The format as the first bytes tell it: a JSON array is CloudEvents, an object naming
    /// `eventNotifications` is classic, anything else unknown. The extraction parses it for real.
    public static func sniffFormat(_ body: Data) -> WebhookPayload.Format {
        guard let first = body.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) else { return .unknown }
        if first == UInt8(ascii: "[") { return .cloudevents }
        if first == UInt8(ascii: "{"), body.range(of: Self.classicKey) != nil { return .classic }
        return .unknown
    }

    private static let classicKey = Data(#""eventNotifications""#.utf8)
}

/// A committed delivery whose events are still to be extracted.
public struct UnexpandedDelivery: Sendable {
    public var id: Int64
    public var receivedAt: Date
    public var body: Data

    public init(id: Int64, receivedAt: Date, body: Data) {
        self.id = id
        self.receivedAt = receivedAt
        self.body = body
    }
}

/// What the extraction made of one delivery.
public enum ExpansionOutcome: Sendable, Equatable {
    /// Its events (and its unparsed events, as failed rows) were stored.
    case stored
    /// A CloudEvents delivery whose every event id is already stored (Intuit's retry in a new
    /// body): its events are not stored again (F10). The raw delivery stays in the log.
    case duplicate(of: Int64)
}

extension WebhookRepository {
    /// Rows per multi-row INSERT: 6 parameters each, far below SQLite's limit of variables.
    static let rowsPerInsert = 64

    /// The intake's commit (issue 17): raw deliveries only, in one transaction of multi-row
    /// INSERTs, each listed for event extraction in the same transaction. No JSON is parsed here.
    /// A delivery whose body is already stored, or repeated earlier in the batch, is not stored
    /// again (F10).
    @discardableResult
    public func appendRaw(_ deliveries: [RawDelivery]) async throws -> [AppendOutcome] {
        do {
            let outcomes = try await writer.writeWithoutTransaction { db in try commitRaw(deliveries, db: db) }
            health.writeSucceeded()
            return outcomes
        } catch {
            health.writeFailed(error)
            throw error
        }
    }

    /// ``appendRaw(_:)`` as a blocking call, for a thread of its own (the intake's committer): GRDB
    /// runs it on the calling thread, so a commit costs no hop. Never from a task or an event loop.
    @discardableResult
    public func appendRawNow(_ deliveries: [RawDelivery]) throws -> [AppendOutcome] {
        do {
            let outcomes = try writer.writeWithoutTransaction { db in try commitRaw(deliveries, db: db) }
            health.writeSucceeded()
            return outcomes
        } catch {
            health.writeFailed(error)
            throw error
        }
    }

    private func commitRaw(_ deliveries: [RawDelivery], db: Database) throws -> [AppendOutcome] {
        // Pinned for every intake commit, whatever a statement before it did: a 200 follows an fsync.
        try db.execute(sql: "PRAGMA synchronous = FULL")
        try undigested.loadIfNeeded(db)
        var appended: (outcomes: [AppendOutcome], undigested: [(digest: Data, id: Int64)]) = ([], [])
        try db.inTransaction {
            appended = try Self.appendRaw(deliveries, undigested: undigested, db: db)
            return .commit
        }
        // Committed: until the extraction indexes them, their digests are checked here.
        undigested.committed(appended.undigested)
        return appended.outcomes
    }

    private static func appendRaw(
        _ deliveries: [RawDelivery], undigested: UndigestedDeliveries, db: Database
    ) throws -> (outcomes: [AppendOutcome], undigested: [(digest: Data, id: Int64)]) {
        var outcomes = [AppendOutcome?](repeating: nil, count: deliveries.count)
        // Replays of stored deliveries (digest waiting for the extraction, or indexed), then of earlier ones in this batch.
        var stored: [Data: Int64] = [:]
        var unknown: [Data] = []
        for delivery in deliveries {
            if let id = undigested.delivery(withDigest: delivery.sha256) { stored[delivery.sha256] = id } else { unknown.append(delivery.sha256) }
        }
        for start in stride(from: 0, to: unknown.count, by: rowsPerInsert) {
            let chunk = unknown[start..<min(start + rowsPerInsert, unknown.count)]
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
            let statement = try db.cachedStatement(sql: "SELECT body_sha256, id FROM qb_webhook_deliveries WHERE body_sha256 IN (\(marks))")
            let rows = try Row.fetchCursor(statement, arguments: StatementArguments(Array(chunk)))
            while let row = try rows.next() { stored[row[0]] = row[1] }
        }
        var fresh: [Int] = []
        var firstInBatch: [Data: Int] = [:]
        for (index, delivery) in deliveries.enumerated() {
            if let original = stored[delivery.sha256] {
                outcomes[index] = .duplicate(of: original)
            } else if firstInBatch[delivery.sha256] == nil {
                firstInBatch[delivery.sha256] = index
                fresh.append(index)
            }
        }
        // The digest is left to the extraction while the map has room; past it, written here (the index's page writes again).
        let deferDigests = undigested.hasRoom(for: fresh.count)
        var waiting: [(digest: Data, id: Int64)] = []
        for start in stride(from: 0, to: fresh.count, by: rowsPerInsert) {
            let chunk = fresh[start..<min(start + rowsPerInsert, fresh.count)]
            let rows = Array(repeating: "(?,?,?,?,?,?)", count: chunk.count).joined(separator: ",")
            let insert = try db.cachedStatement(
                sql: "INSERT INTO qb_webhook_deliveries (received_at, body, signature, remote_address, format, body_sha256) VALUES \(rows) RETURNING id"
            )
            var arguments = StatementArguments()
            for index in chunk {
                let delivery = deliveries[index]
                arguments += [
                    Int64(delivery.receivedAt.timeIntervalSince1970 * 1000), delivery.body, delivery.signature, delivery.remoteAddress, delivery.format.rawValue,
                    deferDigests ? nil : delivery.sha256,
                ]
            }
            let ids = try Int64.fetchAll(insert, arguments: arguments)
            guard ids.count == chunk.count else { throw DatabaseError(resultCode: .SQLITE_INTERNAL, message: "the delivery insert returned \(ids.count) ids for \(chunk.count) rows") }
            for (index, id) in zip(chunk, ids) {
                outcomes[index] = .stored(id)
                if deferDigests { waiting.append((deliveries[index].sha256, id)) }
            }
            let marks = Array(repeating: "(?)", count: ids.count).joined(separator: ",")
            try db.cachedStatement(sql: "INSERT INTO qb_webhook_unexpanded (delivery_id) VALUES \(marks)").execute(arguments: StatementArguments(ids))
        }
        for (index, delivery) in deliveries.enumerated() where outcomes[index] == nil {
            guard case .stored(let id) = outcomes[firstInBatch[delivery.sha256]!] else { continue }
            outcomes[index] = .duplicate(of: id)
        }
        return (outcomes.map { $0! }, waiting)
    }

    /// Committed deliveries whose events are still to be extracted, oldest first.
    public func unexpanded(limit: Int) async throws -> [UnexpandedDelivery] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT d.id, d.received_at, d.body FROM qb_webhook_unexpanded u JOIN qb_webhook_deliveries d ON d.id = u.delivery_id
                    ORDER BY u.delivery_id LIMIT ?
                    """,
                arguments: [limit]
            ).map { UnexpandedDelivery(id: $0[0], receivedAt: Date(timeIntervalSince1970: TimeInterval($0[1] as Int64) / 1000), body: $0[2]) }
        }
    }

    /// Stores the events extracted from committed deliveries, in one transaction that also takes
    /// them off the list. An event whose realm belongs to no org is stored `ignored` with the reason;
    /// an unparsed one `failed`. Each outcome is nil for a delivery no longer listed (extracted already).
    ///
    /// The transaction commits with `synchronous = NORMAL`: no fsync of its own. Everything in it is
    /// derived from raw bodies committed durably before, and it is atomic, so power lost before the
    /// next synced commit at worst undoes it whole, and the deliveries, still listed, are extracted
    /// again at start. The intake's commits stay FULL (``appendRaw(_:)`` pins it), so an
    /// acknowledged delivery never waits behind, or depends on, an extraction's fsync.
    public func expand(_ expansions: [(delivery: UnexpandedDelivery, parsed: WebhookPayload.Parsed)]) async throws -> [ExpansionOutcome?] {
        guard !expansions.isEmpty else { return [] }
        return try await writer.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            defer {
                // Back to the store's setting for every other writer (the intake pins it anyway).
                do { try db.execute(sql: "PRAGMA synchronous = FULL") } catch { assertionFailure("synchronous not restored: \(error)") }
            }
            var expanded: (outcomes: [ExpansionOutcome?], indexed: [Data]) = ([], [])
            try db.inTransaction {
                expanded = try Self.expand(expansions, db: db)
                return .commit
            }
            undigested.indexed(expanded.indexed)
            return expanded.outcomes
        }
    }

    private static func expand(
        _ expansions: [(delivery: UnexpandedDelivery, parsed: WebhookPayload.Parsed)], db: Database
    ) throws -> (outcomes: [ExpansionOutcome?], indexed: [Data]) {
        var outcomes: [ExpansionOutcome?] = []
        var indexed: [Data] = []
        for (delivery, parsed) in expansions {
            // Taken off the list here; a delivery no longer listed was extracted already and gets nothing more.
            try db.cachedStatement(sql: "DELETE FROM qb_webhook_unexpanded WHERE delivery_id = ?").execute(arguments: [delivery.id])
            guard db.changesCount == 1 else {
                outcomes.append(nil)
                continue
            }
            // Its digest into the index (the intake left it NULL; ``UndigestedDeliveries``). OR IGNORE:
            // a body already indexed under another row keeps that row as the original.
            let digest = Self.digest(delivery.body)
            try db.cachedStatement(sql: "UPDATE OR IGNORE qb_webhook_deliveries SET body_sha256 = ? WHERE id = ? AND body_sha256 IS NULL")
                .execute(arguments: [digest, delivery.id])
            indexed.append(digest)
            if let original = try Self.cloudEventReplay(of: parsed.events, unparsed: parsed.unparsed, db: db) {
                outcomes.append(.duplicate(of: original))
                continue
            }
            try Self.insertEvents(deliveryID: delivery.id, receivedAt: delivery.receivedAt, events: parsed.events, unparsed: parsed.unparsed, db: db)
            outcomes.append(.stored)
        }
        return (outcomes, indexed)
    }

    /// The SHA-256 of a body, as the log's replay check keys it (F10).
    static func digest(_ body: Data) -> Data {
        Data(SHA256.hash(data: body))
    }
}
