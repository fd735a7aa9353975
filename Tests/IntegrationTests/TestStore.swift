import Foundation
import Logging
import PostgresNIO
import QBSyncStore
import QBSyncStorePostgres
import QBTestSupport
import Testing

/// A daemon's store as the test reaches it from outside the daemon, on either backend: its SQLite
/// file, or its schema of the PostgreSQL test database (``TestBackend``).
enum TestStore {
    static let logger = Logger(label: "qbsyncd.test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// The daemon's store, opened (and migrated) beside it, closed after `body`.
    static func with<Result: Sendable>(_ daemon: DaemonProcess, _ body: @Sendable (any StoreBackend) async throws -> Result) async throws -> Result {
        guard TestBackend.isPostgres else {
            let store = try Store.open(stateDirectory: daemon.stateDirectory, logger: logger)
            defer { try? store.close() }  // try?: the test's outcome is body's
            return try await body(store)
        }
        return try await withPostgres(daemon) { store in try await body(store) }
    }

    /// The daemon's PostgreSQL schema, its pool running, migrated (a no-op once the daemon has).
    static func withPostgres<Result: Sendable>(_ daemon: DaemonProcess, _ body: @Sendable (PostgresStore) async throws -> Result) async throws -> Result {
        let url = try #require(TestBackend.databaseURL)
        let schema = try #require(daemon.databaseSchema, "the daemon runs on its own schema")
        var configuration = try PostgresStoreConfiguration(url: url, schema: schema)
        configuration.maximumConnections = 1  // one statement at a time; the cluster's connections are shared
        let store = PostgresStore(configuration: configuration, archiveDirectory: daemon.stateDirectory + "/archives", logger: logger)
        return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
            group.addTask { await store.run() }
            defer { group.cancelAll() }
            try await store.migrate()
            return try await body(store)
        }
    }

    /// Runs SQL against the daemon's store behind its back, as an operator with `sqlite3` or `psql`
    /// would: `setup` first, then each statement on its own. One line per statement: `allowed`,
    /// or `refused: <the database's reason>`.
    static func outcomes(_ daemon: DaemonProcess, setup: String? = nil, statements: [String]) async throws -> [String] {
        guard TestBackend.isPostgres else {
            return try await sqliteOutcomes(database: daemon.stateDirectory + "/qbsyncd.sqlite", setup: setup, statements: statements)
        }
        return try await withPostgres(daemon) { store in
            if let setup { try await store.client.query(PostgresQuery(unsafeSQL: setup), logger: logger) }
            var outcomes: [String] = []
            for statement in statements {
                do {
                    try await store.client.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    outcomes.append("allowed")
                } catch {
                    outcomes.append("refused: \(PostgresFailure.message(of: error) ?? "\(PostgresFailure.sqlState(of: error) ?? "?")")")
                }
            }
            return outcomes
        }
    }

    /// `SELECT COUNT(*) FROM table` in the daemon's store.
    static func count(_ daemon: DaemonProcess, _ table: String) async throws -> Int {
        guard TestBackend.isPostgres else {
            let result = try await runCommand(
                "/usr/bin/env", ["python3", "-c", "import sqlite3, sys\ndb = sqlite3.connect(sys.argv[1], timeout=10)\nprint(db.execute('SELECT COUNT(*) FROM \(table)').fetchone()[0])", daemon.stateDirectory + "/qbsyncd.sqlite"],
                environment: ["PATH": "/usr/bin:/bin"]
            )
            return try #require(Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "\(result.stderr)")
        }
        return try await withPostgres(daemon) { store in
            var counts: [Int64] = []
            for try await count in try await store.client.query(PostgresQuery(unsafeSQL: "SELECT COUNT(*) FROM \(table)"), logger: logger).decode(Int64.self) { counts.append(count) }
            return Int(try #require(counts.first))
        }
    }
}
