public import Foundation
import Logging
import PostgresNIO
public import QBSyncCore
public import QBSyncStore

/// The intake of issue 17: raw deliveries committed first (`appendRaw`), their events extracted
/// after the answer (`unexpanded`, `expand`), as the SQLite store's `WebhookRepository+Intake`.
extension PostgresWebhookRepository {
    /// The intake's commit: raw deliveries only, in one transaction (multi-row INSERTs with `ON
    /// CONFLICT (body_sha256) DO NOTHING`), each listed for event extraction in the same
    /// transaction. No JSON is parsed here. A delivery whose body is already stored (by any
    /// instance, even one committing at this moment), or repeated earlier in the batch, is not
    /// stored again (F10). Returns after the COMMIT.
    @discardableResult
    public func appendRaw(_ deliveries: [RawDelivery]) async throws -> [AppendOutcome] {
        guard !deliveries.isEmpty else { return [] }
        let logger = store.logger
        return try await store.write { connection in try await Self.appendRaw(deliveries, on: connection, logger: logger) }
    }

    private static func appendRaw(_ deliveries: [RawDelivery], on connection: PostgresConnection, logger: Logger) async throws -> [AppendOutcome] {
        var firstInBatch: [Data: Int] = [:]
        var fresh: [Int] = []
        for (index, delivery) in deliveries.enumerated() where firstInBatch[delivery.sha256] == nil {
            firstInBatch[delivery.sha256] = index
            fresh.append(index)
        }
        let inserted = try await insertDeliveries(
            fresh.map {
                let delivery = deliveries[$0]
                return DeliveryInsert(
                    receivedAt: delivery.receivedAt, body: delivery.body, signature: delivery.signature, remoteAddress: delivery.remoteAddress,
                    format: delivery.format.rawValue, digest: delivery.sha256
                )
            },
            on: connection, logger: logger
        )
        let ids = fresh.compactMap { inserted[deliveries[$0].sha256] }
        if !ids.isEmpty {
            _ = try await connection.guardedQuery("INSERT INTO qb_webhook_unexpanded (delivery_id) SELECT unnest(\(ids)::bigint[])", logger: logger)
        }
        // Bodies stored before (or by another instance meanwhile): skipped by the conflict clause.
        let existing = try await deliveryIDs(for: fresh.map { deliveries[$0].sha256 }.filter { inserted[$0] == nil }, on: connection, logger: logger)
        return try deliveries.enumerated().map { index, delivery in
            if let id = inserted[delivery.sha256] {
                return firstInBatch[delivery.sha256] == index ? .stored(id) : .duplicate(of: id)
            }
            guard let id = existing[delivery.sha256] else { throw PostgresStoreInvariant("a delivery neither inserted nor found by its digest") }
            return .duplicate(of: id)
        }
    }

    /// Committed deliveries whose events are still to be extracted, oldest first.
    public func unexpanded(limit: Int) async throws -> [UnexpandedDelivery] {
        let logger = store.logger
        return try await store.read { connection in
            try await connection.guardedCollect(
                """
                SELECT d.id, d.received_at, d.body FROM qb_webhook_unexpanded u JOIN qb_webhook_deliveries d ON d.id = u.delivery_id
                ORDER BY u.delivery_id LIMIT \(Int64(limit))
                """,
                logger: logger
            ) { row in
                let (id, receivedAt, body) = try row.decode((Int64, Int64, Data).self)
                return UnexpandedDelivery(id: id, receivedAt: Date(millis: receivedAt), body: body)
            }
        }
    }

    /// Stores the events extracted from committed deliveries, in one transaction that also takes
    /// them off the list (a `DELETE … RETURNING`: of two instances extracting one delivery, one
    /// stores its events, the other gets nil). An event whose realm belongs to no org is stored
    /// `ignored` with the reason; an unparsed one `failed`. Each outcome is nil for a delivery no
    /// longer listed (extracted already).
    ///
    /// The transaction commits with `synchronous_commit = off` (SQLite's `synchronous = NORMAL`
    /// here): everything in it derives from raw bodies committed durably before, and it is atomic,
    /// so a crash at worst undoes it whole and the deliveries, still listed, are extracted again.
    public func expand(_ expansions: [(delivery: UnexpandedDelivery, parsed: WebhookPayload.Parsed)]) async throws -> [ExpansionOutcome?] {
        guard !expansions.isEmpty else { return [] }
        let logger = store.logger
        let expansions = expansions.map { Expansion(id: $0.delivery.id, receivedAt: $0.delivery.receivedAt, parsed: $0.parsed) }
        return try await store.write { connection in
            _ = try await connection.guardedQuery("SET LOCAL synchronous_commit = off", logger: logger)
            // Three statements a batch, not three a delivery: off the list at once (of two instances
            // extracting one delivery, one takes it), the stored CloudEvents ids at once, every
            // event in one multi-row insert.
            var taken = Set(
                try await connection.guardedCollect(
                    "DELETE FROM qb_webhook_unexpanded WHERE delivery_id = ANY(\(expansions.map(\.id))) RETURNING delivery_id", logger: logger, Int64.self
                )
            )
            func cloudIDs(_ parsed: WebhookPayload.Parsed) -> [String]? {
                let ids = parsed.events.compactMap(\.cloudEventID)
                return parsed.unparsed.isEmpty && !ids.isEmpty && ids.count == parsed.events.count ? ids : nil
            }
            let candidates = expansions.filter { taken.contains($0.id) }.compactMap { cloudIDs($0.parsed) }.flatMap { $0 }
            let stored = try await Self.storedCloudEvents(Array(Set(candidates)), on: connection, logger: logger)
            // Ids stored by an earlier delivery of this batch: the first delivery that carried each.
            var earlier: [String: Int64] = [:]
            var rows: [EventInsert] = []
            var outcomes: [ExpansionOutcome?] = []
            for expansion in expansions {
                // Each delivery once, however often the caller listed it.
                guard taken.remove(expansion.id) != nil else {
                    outcomes.append(nil)
                    continue
                }
                if let ids = cloudIDs(expansion.parsed), ids.allSatisfy({ stored[$0] != nil || earlier[$0] != nil }),
                    let original = stored[ids[0]] ?? earlier[ids[0]]
                {
                    outcomes.append(.duplicate(of: original))
                    continue
                }
                for id in expansion.parsed.events.compactMap(\.cloudEventID) where earlier[id] == nil && stored[id] == nil { earlier[id] = expansion.id }
                rows += EventInsert.rows(deliveryID: expansion.id, receivedAt: expansion.receivedAt, events: expansion.parsed.events, unparsed: expansion.parsed.unparsed)
                outcomes.append(.stored)
            }
            try await EventInsert.insert(rows, on: connection, logger: logger)
            return outcomes
        }
    }
}

/// One delivery to expand (a Sendable copy of the caller's tuple).
private struct Expansion: Sendable {
    var id: Int64
    var receivedAt: Date
    var parsed: WebhookPayload.Parsed
}
