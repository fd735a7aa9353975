public import Logging
public import PostgresNIO
public import QBSyncStore
public import ServiceLifecycle

/// The PostgreSQL store: a connection pool and the schema. Several qbsyncd instances may open the
/// same database at once; migrations run once, under an advisory lock.
///
/// The pool works only while ``run()`` runs (a `Service` in the daemon's group; a child task in
/// tests). Call ``migrate()`` after starting it, before any repository is used.
public final class PostgresStore: Sendable, Service {
    public let client: PostgresClient
    public let configuration: PostgresStoreConfiguration
    /// Whether the last write went through (the same `/healthz` view as the SQLite store's).
    public let health: StoreHealth
    let logger: Logger

    public init(configuration: PostgresStoreConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        client = PostgresClient(configuration: configuration.client, backgroundLogger: logger)
        health = StoreHealth()
    }

    /// Runs the pool until cancelled.
    public func run() async {
        await client.run()
    }

    /// Applies the migrations not yet applied, in order, in one transaction that holds the
    /// migration lock: instances starting together wait for each other and apply each once.
    /// Returns the versions this call applied.
    @discardableResult
    public func migrate() async throws -> [String] {
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await PostgresMigrations.apply(on: connection, logger: self.logger)
            }
        } catch {
            throw StoreError(.migrationFailed, "the PostgreSQL schema could not be brought up to date: \(PostgresFailure.describe(error))")
        }
    }

    /// One transaction; its outcome is recorded in ``health``.
    func write<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        do {
            let result = try await client.withTransaction(logger: logger) { connection in try await body(connection) }
            health.writeSucceeded()
            return result
        } catch {
            let failure = PostgresFailure.unwrap(error)
            if !PostgresFailure.isAboutOneRow(failure) { health.writeFailed(PostgresFailure(failure)) }
            throw failure
        }
    }

    /// A read on one pooled connection.
    func read<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        try await client.withConnection { connection in try await body(connection) }
    }
}
