import Crypto
import Foundation
import Logging
import NIOCore
import PostgresNIO
import QBSyncCore
public import QBSyncStore

/// The webhook log in PostgreSQL: deliveries (append-only, enforced by triggers) and their events.
/// The same calls as the SQLite store's `WebhookRepository`; instances share it, so replays are
/// recognised across instances by the unique body digest.
public struct PostgresWebhookRepository: Sendable {
    let store: PostgresStore

    public init(store: PostgresStore) { self.store = store }

    public typealias AppendOutcome = WebhookRepository.AppendOutcome

    /// Appends a group of deliveries and their events in one transaction: ONE multi-row INSERT of
    /// the deliveries (`ON CONFLICT (body_sha256) DO NOTHING`), then one of their events. It
    /// returns after the COMMIT, so an answer sent on its outcome is never ahead of the data.
    ///
    /// A delivery that repeats one stored (the same body, or CloudEvents ids all stored) or one
    /// earlier in the group is not stored again (F10). A replay committed by another instance while
    /// this group was in flight is caught by the conflict and answered as a duplicate of that row.
    /// An event whose realm belongs to no org is stored `ignored` with the reason.
    @discardableResult
    public func append(_ deliveries: [IncomingDelivery]) async throws -> [AppendOutcome] {
        guard !deliveries.isEmpty else { return [] }
        let logger = store.logger
        return try await store.write { connection in try await Self.append(deliveries, on: connection, logger: logger) }
    }

    /// Where a delivery's content already is.
    private enum Source {
        case new
        case stored(Int64)
        case sameAs(Int)
    }

    private static func append(_ deliveries: [IncomingDelivery], on connection: PostgresConnection, logger: Logger) async throws -> [AppendOutcome] {
        let digests = deliveries.map { Data(SHA256.hash(data: $0.body)) }
        let cloudIDs = deliveries.map { $0.unparsed.isEmpty ? $0.events.compactMap(\.cloudEventID) : [] }
        let knownCloudIDs = try await storedCloudEvents(Array(Set(cloudIDs.joined())), on: connection, logger: logger)

        var sources = [Source](repeating: .new, count: deliveries.count)
        var firstWithDigest: [Data: Int] = [:]
        var cloudIDsInGroup: [String: Int] = [:]
        for index in deliveries.indices {
            if let first = firstWithDigest[digests[index]] {
                sources[index] = .sameAs(first)
                continue
            }
            let ids = cloudIDs[index]
            if !ids.isEmpty, ids.count == deliveries[index].events.count, let origin = Self.origin(of: ids, stored: knownCloudIDs, inGroup: cloudIDsInGroup) {
                sources[index] = origin
                continue
            }
            firstWithDigest[digests[index]] = index
            for id in ids where cloudIDsInGroup[id] == nil { cloudIDsInGroup[id] = index }
        }

        let fresh = deliveries.indices.filter { if case .new = sources[$0] { true } else { false } }
        var inserted = try await insertDeliveries(
            fresh.map {
                let delivery = deliveries[$0]
                return DeliveryInsert(
                    receivedAt: delivery.receivedAt, body: delivery.body, signature: delivery.signature, remoteAddress: delivery.remoteAddress,
                    format: delivery.format.rawValue, digest: digests[$0]
                )
            },
            on: connection, logger: logger
        )
        // Conflicts: the same body committed before (by another instance, perhaps just now).
        let conflicting = fresh.map { digests[$0] }.filter { inserted[$0] == nil }
        let existing = try await deliveryIDs(for: conflicting, on: connection, logger: logger)

        var rows: [EventInsert] = []
        var outcomes: [AppendOutcome] = []
        for index in deliveries.indices {
            switch sources[index] {
            case .stored(let id):
                outcomes.append(.duplicate(of: id))
            case .sameAs(let first):
                outcomes.append(.duplicate(of: outcomes[first].deliveryID))
            case .new:
                if let id = inserted.removeValue(forKey: digests[index]) {
                    outcomes.append(.stored(id))
                    rows += EventInsert.rows(of: deliveries[index], deliveryID: id)
                } else if let id = existing[digests[index]] {
                    outcomes.append(.duplicate(of: id))
                } else {
                    throw PostgresStoreInvariant("a delivery neither inserted nor found by its digest")
                }
            }
        }
        try await EventInsert.insert(rows, on: connection, logger: logger)
        return outcomes
    }

    /// The delivery that first stored each CloudEvents id, among `ids`.
    static func storedCloudEvents(_ ids: [String], on connection: PostgresConnection, logger: Logger) async throws -> [String: Int64] {
        guard !ids.isEmpty else { return [:] }
        var found: [String: Int64] = [:]
        let rows = try await connection.guardedCollect(
            """
            SELECT DISTINCT ON (cloud_event_id) cloud_event_id, delivery_id FROM qb_webhook_events
            WHERE cloud_event_id = ANY(\(ids)) ORDER BY cloud_event_id, id
            """,
            logger: logger
        ) { try $0.decode((String, Int64).self) }
        for (id, delivery) in rows { found[id] = delivery }
        return found
    }

    /// A CloudEvents delivery all of whose ids are stored or earlier in the group: where the first is.
    private static func origin(of ids: [String], stored: [String: Int64], inGroup: [String: Int]) -> Source? {
        var origin: Source?
        for id in ids {
            if let delivery = stored[id] {
                origin = origin ?? .stored(delivery)
            } else if let index = inGroup[id] {
                origin = origin ?? .sameAs(index)
            } else {
                return nil
            }
        }
        return origin
    }

    /// One multi-row INSERT (per 10,000 rows: PostgreSQL's limit of 65,535 binds); the ids of the
    /// rows inserted, by digest. A digest already stored is skipped by the conflict clause.
    static func insertDeliveries(_ deliveries: [DeliveryInsert], on connection: PostgresConnection, logger: Logger) async throws -> [Data: Int64] {
        var ids: [Data: Int64] = [:]
        for start in stride(from: 0, to: deliveries.count, by: 10_000) {
            let chunk = deliveries[start..<min(start + 10_000, deliveries.count)]
            var binds = PostgresBindings(capacity: chunk.count * 6)
            var values: [String] = []
            for delivery in chunk {
                values.append(SQLPlaceholders.row(first: binds.count + 1, count: 6))
                binds.append(delivery.receivedAt.millis)
                try binds.append(delivery.body)
                binds.append(delivery.signature)
                binds.append(delivery.remoteAddress)
                binds.append(delivery.format)
                try binds.append(delivery.digest)
            }
            // Only placeholders are spliced into the text; every value travels as a bind.
            let query = PostgresQuery(
                unsafeSQL: """
                    INSERT INTO qb_webhook_deliveries (received_at, body, signature, remote_address, format, body_sha256)
                    VALUES \(values.joined(separator: ",")) ON CONFLICT (body_sha256) DO NOTHING RETURNING id, body_sha256
                    """,
                binds: binds
            )
            for (id, digest) in try await connection.guardedCollect(query, logger: logger, { try $0.decode((Int64, Data).self) }) { ids[digest] = id }
        }
        return ids
    }

    /// The stored delivery of each digest.
    static func deliveryIDs(for digests: [Data], on connection: PostgresConnection, logger: Logger) async throws -> [Data: Int64] {
        guard !digests.isEmpty else { return [:] }
        let buffers = digests.map { ByteBuffer(bytes: $0) }
        var found: [Data: Int64] = [:]
        let rows = try await connection.guardedCollect(
            "SELECT id, body_sha256 FROM qb_webhook_deliveries WHERE body_sha256 = ANY(\(buffers))", logger: logger
        ) { try $0.decode((Int64, Data).self) }
        for (id, digest) in rows { found[digest] = id }
        return found
    }
}

/// One `qb_webhook_deliveries` row to insert.
struct DeliveryInsert: Sendable {
    var receivedAt: Date
    var body: Data
    var signature: String
    var remoteAddress: String?
    var format: String
    var digest: Data
}

extension WebhookRepository.AppendOutcome {
    /// The delivery that holds this content.
    var deliveryID: Int64 {
        switch self {
        case .stored(let id), .duplicate(of: let id): id
        }
    }
}

/// A broken assumption of the store's own code (never a row's fault).
struct PostgresStoreInvariant: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
