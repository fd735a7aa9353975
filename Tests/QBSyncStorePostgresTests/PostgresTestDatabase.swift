import Foundation
import Logging
import PostgresNIO
@testable import QBSyncStorePostgres
import Testing

/// The real PostgreSQL the tests run against: `QBSYNCD_TEST_DATABASE_URL`, as
/// `scripts/pg-cluster.sh start` prints it. Each test works in a fresh schema of its own, dropped
/// after it, so tests are independent and may run in parallel.
enum PostgresTestDatabase {
    static let url: String? = ProcessInfo.processInfo.environment["QBSYNCD_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }

    /// The trait of every test that needs the database. Until `scripts/test.sh` starts the cluster,
    /// the suites are skipped without it; start one with
    /// `eval "$(bash scripts/pg-cluster.sh start)"; export QBSYNCD_TEST_DATABASE_URL`.
    static let enabled: ConditionTrait = .enabled(
        if: url != nil, "QBSYNCD_TEST_DATABASE_URL is not set: run `eval \"$(bash scripts/pg-cluster.sh start)\"; export QBSYNCD_TEST_DATABASE_URL`"
    )

    static let logger = Logger(label: "qbsyncd.test.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Runs `body` with a fresh, empty schema's name; drops the schema after.
    static func withSchema<Result: Sendable>(_ body: @Sendable (String) async throws -> Result) async throws -> Result {
        let url = try #require(url, "QBSYNCD_TEST_DATABASE_URL is not set: run `bash scripts/pg-cluster.sh start` and export what it prints")
        let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
        let admin = try PostgresStoreConfiguration(url: url)
        return try await withStore(admin, migrate: false) { store in
            try await store.client.query("CREATE SCHEMA \(unescaped: String(schema))", logger: logger)
            do {
                let result = try await body(String(schema))
                try await store.client.query("DROP SCHEMA \(unescaped: String(schema)) CASCADE", logger: logger)
                return result
            } catch {
                // try?: the test's own error is the one to report; the schema is only litter then.
                _ = try? await store.client.query("DROP SCHEMA \(unescaped: String(schema)) CASCADE", logger: logger)
                throw error
            }
        }
    }

    /// A store on `schema` (an instance of qbsyncd), its pool running, migrated unless told not to.
    static func withStore<Result: Sendable>(
        schema: String, migrate: Bool = true, _ body: @Sendable (PostgresStore) async throws -> Result
    ) async throws -> Result {
        let url = try #require(url)
        var configuration = try PostgresStoreConfiguration(url: url, schema: schema)
        configuration.client.options.additionalStartupParameters.append(("application_name", "qbsyncd-test-\(schema)"))
        return try await withStore(configuration, migrate: migrate, body)
    }

    private static func withStore<Result: Sendable>(
        _ configuration: PostgresStoreConfiguration, migrate: Bool, _ body: @Sendable (PostgresStore) async throws -> Result
    ) async throws -> Result {
        let store = PostgresStore(configuration: configuration, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
            group.addTask { await store.run() }
            defer { group.cancelAll() }
            if migrate { try await store.migrate() }
            return try await body(store)
        }
    }

    /// Every row of a query, each decoded as `T`.
    static func all<T: PostgresDecodable & Sendable>(_ query: PostgresQuery, as type: T.Type, on store: PostgresStore) async throws -> [T] {
        var values: [T] = []
        for try await value in try await store.client.query(query, logger: logger).decode(T.self) { values.append(value) }
        return values
    }

    /// The one value of a one-row, one-column query.
    static func one<T: PostgresDecodable & Sendable>(_ query: PostgresQuery, as type: T.Type, on store: PostgresStore) async throws -> T {
        try #require(try await all(query, as: type, on: store).first)
    }

    /// The SQLSTATE of the error a statement throws (nil: it went through).
    static func refusal(_ query: PostgresQuery, on store: PostgresStore) async -> (state: String?, message: String?)? {
        do {
            try await store.client.query(query, logger: logger)
            return nil
        } catch {
            return (PostgresFailure.sqlState(of: error), PostgresFailure.message(of: error))
        }
    }
}
