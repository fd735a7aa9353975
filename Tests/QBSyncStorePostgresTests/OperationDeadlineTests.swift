import Foundation
import PostgresNIO
@testable import QBSyncStorePostgres
import QBTestSupport
import Testing

/// The deadline of each PostgreSQL operation (issue 18): a connection whose server session is gone
/// is closed at the deadline; one whose session is alive is left to finish.
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(3)))
struct OperationDeadlineTests {
    @Test func theURLSetsTheDeadlineWithinItsBounds() throws {
        let base = "postgres://u:p@127.0.0.1:5432/db"
        #expect(try PostgresStoreConfiguration(url: base).operationTimeout == .seconds(30))
        #expect(try PostgresStoreConfiguration(url: base + "?operation_timeout=7").operationTimeout == .seconds(7))
        #expect(throws: (any Error).self) { try PostgresStoreConfiguration(url: base + "?operation_timeout=0") }
        #expect(throws: (any Error).self) { try PostgresStoreConfiguration(url: base + "?operation_timeout=soon") }
    }

    /// A session that is alive past the deadline (waiting on another session's lock) is not cut.
    @Test func aSlowOperationOnALiveSessionFinishesPastTheDeadline() async throws {
        try await withStore(timeout: 1) { store in
            let logger = PostgresTestDatabase.logger
            // The lock's holder: a connection of its own, outside the store's pool.
            let holder = try await PostgresConnection.connect(configuration: store.configuration.connection, id: 99, logger: logger)
            do {
                _ = try await holder.query("BEGIN", logger: logger)
                _ = try await holder.query("LOCK TABLE store_health IN ACCESS EXCLUSIVE MODE", logger: logger)
                async let waited = store.write { connection in
                    try await connection.collect("SELECT COUNT(*) FROM store_health", logger: logger, Int64.self).count
                }
                // Polled: the operation has waited on the lock past two of its deadlines.
                _ = try await eventually(timeout: .seconds(30), "the operation waiting on the lock for 2.5 s") { () -> Bool? in
                    let rows = try await holder.query(
                        "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND clock_timestamp() - query_start > interval '2.5 seconds'",
                        logger: logger
                    )
                    for try await count in rows.decode(Int64.self) where count > 0 { return true }
                    return nil
                }
                _ = try await holder.query("COMMIT", logger: logger)
                #expect(try await waited == 1)
            } catch {
                try? await holder.close()  // try?: the test's error is the one to report
                throw error
            }
            try await holder.close()
            #expect(store.health.snapshot.writable)
        }
    }

    /// The watchdog's look: a live session is found, a pid no session has is not.
    @Test func theProbeFindsLiveSessionsOnly() async throws {
        try await withStore(timeout: 30) { store in
            let pid = try #require(try await store.read { connection in
                try await connection.collect("SELECT pg_backend_pid()", logger: PostgresTestDatabase.logger, Int32.self).first
            })
            #expect(await store.sessionIsAlive(pid: pid, limit: .seconds(5)) == true)
            #expect(await store.sessionIsAlive(pid: Int32.max, limit: .seconds(5)) == false)
        }
    }

    func withStore(timeout: Int, _ body: @Sendable (PostgresStore) async throws -> Void) async throws {
        try await PostgresTestDatabase.withSchema { schema in
            let url = try #require(PostgresTestDatabase.url)
            let configuration = try PostgresStoreConfiguration(url: url + (url.contains("?") ? "&" : "?") + "operation_timeout=\(timeout)", schema: schema)
            let store = PostgresStore(configuration: configuration, logger: PostgresTestDatabase.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await store.run() }
                defer { group.cancelAll() }
                try await store.migrate()
                try await body(store)
            }
        }
    }
}
