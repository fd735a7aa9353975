public import Foundation
import PostgresNIO
import QBSyncCore
public import QBSyncStore

/// The pipeline's writes to events: settle, postpone, requeue. The facts never change (the
/// database refuses it); only the processing columns do.
extension PostgresWebhookRepository {
    /// `event.retry`: back to pending, due now.
    public func requeue(id: Int64) async throws -> Bool {
        let logger = store.logger
        return try await store.write { connection in
            try await connection.guardedCollect(
                "UPDATE qb_webhook_events SET status = 'pending', next_attempt_at = NULL WHERE id = \(id) RETURNING 1", logger: logger, Int32.self
            ).count == 1
        }
    }

    /// Settles events in one transaction: each with its status, what resolved it, and an error.
    /// Returns the settled rows in the order given (an unknown id is skipped).
    public func settle(_ outcomes: [(id: Int64, status: String, resolution: String?, error: String?)], now: Date) async throws -> [EventRecord] {
        guard !outcomes.isEmpty else { return [] }
        let logger = store.logger
        let outcomes = outcomes.map { Settlement(id: $0.id, status: $0.status, resolution: $0.resolution, error: $0.error) }
        return try await store.write { connection in
            var settled: [EventRecord] = []
            for outcome in outcomes {
                settled += try await connection.guardedCollect(
                    """
                    UPDATE qb_webhook_events SET status = \(outcome.status), resolution = \(outcome.resolution), process_error = \(outcome.error),
                        attempts = attempts + 1, processed_at = \(now.millis), next_attempt_at = NULL
                    WHERE id = \(outcome.id)
                    RETURNING \(unescaped: StoredRows.eventColumns)
                    """,
                    logger: logger, StoredRows.event
                )
            }
            return settled
        }
    }

    /// Leaves events pending until `at`, with an attempt counted unless they only wait (for the read budget).
    public func postpone(ids: [Int64], error: String, at: Date, countAttempt: Bool = true) async throws {
        guard !ids.isEmpty else { return }
        try await store.execute(
            """
            UPDATE qb_webhook_events SET process_error = \(error), attempts = attempts + \(Int64(countAttempt ? 1 : 0)), next_attempt_at = \(at.millis)
            WHERE id = ANY(\(ids))
            """
        )
    }
}

/// One settle outcome (a Sendable copy of the caller's tuple).
private struct Settlement: Sendable {
    var id: Int64
    var status: String
    var resolution: String?
    var error: String?
}
