public import Foundation
import Logging
import PostgresNIO
public import QBSyncCore

/// The instances sharing the database, by heartbeat (`qb_instances`): each beat says "alive" and
/// learns how many others are, so the companies' work spreads over the live ones
/// (``LeaseRules/plan(instance:instances:companies:stored:now:)``).
public struct InstanceRegistry: Sendable {
    let store: PostgresStore

    public init(store: PostgresStore) {
        self.store = store
    }

    /// Records `instance` alive at `now` and answers how many instances were seen since
    /// `now - window` (itself included). Rows silent for ten windows are removed.
    public func beat(instance: String, now: Date, window: TimeInterval) async throws -> Int {
        let logger = store.logger
        let since = now.addingTimeInterval(-window).millis
        let forgotten = now.addingTimeInterval(-10 * window).millis
        return try await store.write { connection in
            try await connection.query(
                """
                INSERT INTO qb_instances (instance, started_at, seen_at) VALUES (\(instance), \(now.millis), \(now.millis))
                ON CONFLICT (instance) DO UPDATE SET seen_at = EXCLUDED.seen_at
                """,
                logger: logger
            )
            try await connection.query("DELETE FROM qb_instances WHERE seen_at < \(forgotten)", logger: logger)
            for try await count in try await connection.query("SELECT COUNT(*) FROM qb_instances WHERE seen_at > \(since)", logger: logger).decode(Int64.self) {
                return Int(count)
            }
            return 1
        }
    }

    /// Says `instance` is gone (a graceful stop), so the others count it out at their next beat.
    public func leave(instance: String) async throws {
        let logger = store.logger
        try await store.write { connection in
            try await connection.query("DELETE FROM qb_instances WHERE instance = \(instance)", logger: logger)
        }
    }
}

extension CompanyLeaseRepository {
    /// Every company's lease as stored, held or not (the heartbeat plans from it).
    public func all() async throws -> [CompanyLease] {
        let logger = store.logger
        return try await store.read { connection in
            var leases: [CompanyLease] = []
            let rows = try await connection.query("SELECT realm_id, owner, expires_at, generation FROM qb_company_leases ORDER BY realm_id", logger: logger)
            for try await (realm, owner, expiry, generation) in rows.decode((String, String, Int64, Int64).self) {
                leases.append(CompanyLease(realmID: realm, owner: owner, expiresAt: Date(millis: expiry), generation: generation))
            }
            return leases
        }
    }
}
