import PostgresNIO
public import QBSyncCore

extension PostgresWebhookRepository {
    public func find(id: Int64) async throws -> WebhookEventRow? {
        try await store.read { connection in
            let rows = try await connection.query(
                "SELECT \(unescaped: WebhookEventRow.columns) FROM qb_webhook_events WHERE id = \(id)", logger: store.logger
            )
            for try await row in rows { return try WebhookEventRow(row) }
            return nil
        }
    }

    /// Newest first, before the cursor id; each filter applies only when given.
    public func list(org: OrgID?, status: String?, beforeID: Int64?, limit: Int) async throws -> [WebhookEventRow] {
        try await store.read { connection in
            let rows = try await connection.query(
                """
                SELECT \(unescaped: WebhookEventRow.columns) FROM qb_webhook_events
                WHERE (\(org?.rawValue)::text IS NULL OR org = \(org?.rawValue)) AND (\(status)::text IS NULL OR status = \(status))
                    AND (\(beforeID)::bigint IS NULL OR id < \(beforeID))
                ORDER BY id DESC LIMIT \(Int64(limit))
                """,
                logger: store.logger
            )
            var events: [WebhookEventRow] = []
            for try await row in rows { events.append(try WebhookEventRow(row)) }
            return events
        }
    }

    public func counts() async throws -> (pending: Int, failed: Int) {
        try await store.read { connection in
            let rows = try await connection.query(
                "SELECT COUNT(*) FILTER (WHERE status = 'pending'), COUNT(*) FILTER (WHERE status = 'failed') FROM qb_webhook_events",
                logger: store.logger
            )
            for try await (pending, failed) in rows.decode((Int64, Int64).self) { return (Int(pending), Int(failed)) }
            return (0, 0)
        }
    }

    /// How many deliveries the log holds.
    public func deliveryCount() async throws -> Int {
        try await store.read { connection in
            for try await count in try await connection.query("SELECT COUNT(*) FROM qb_webhook_deliveries", logger: store.logger).decode(Int64.self) {
                return Int(count)
            }
            return 0
        }
    }
}
