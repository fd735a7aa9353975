import Foundation
import Logging
import PostgresNIO
public import QBSyncStore

/// Wake-ups between instances: PostgreSQL NOTIFY/LISTEN on one channel per store (its schema in
/// the name, since channels are per database). Only a hint: the tables stay the truth, and a lost
/// announcement costs at most a heartbeat's delay.
extension PostgresStore {
    /// The store's channel: `qbsyncd`, or `qbsyncd_<schema>` for a store in a schema of its own.
    var channel: String { configuration.schema.map { "qbsyncd_\($0)" } ?? "qbsyncd" }

    /// `pg_notify` as a statement of its own on a pooled connection: never inside a write
    /// transaction (a NOTIFY in a transaction takes the server's notification lock at its commit).
    public func announce(_ payload: String) async throws {
        let logger = logger
        let query: PostgresQuery = "SELECT pg_notify(\(channel), \(payload))"
        try await bounded { connection in _ = try await connection.query(query, logger: logger) }
    }

    /// Calls `each` with every payload announced on the store's channel (by any instance, this one
    /// included), on a connection of its own outside the pool, until cancelled; throws when the
    /// connection fails (the caller connects again).
    public func listen(_ each: @escaping @Sendable (String) async -> Void) async throws {
        let connection = try await PostgresConnection.connect(configuration: configuration.connection, id: 1, logger: logger)
        do {
            try await connection.listen(on: channel) { notifications in
                for try await notification in notifications { await each(notification.payload) }
            }
        } catch {
            try? await connection.close()  // try?: the connection failed already; the listen's own error is the one to tell
            throw error
        }
        try? await connection.close()  // try?: cancelled; closing is tidiness
    }
}
