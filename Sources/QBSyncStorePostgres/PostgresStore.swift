public import Logging
public import PostgresNIO
public import QBSyncStore
import QBSyncCore
public import ServiceLifecycle
import Foundation
import Synchronization

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
    /// Where the log's archive files are written: the state directory's `archives/`, as with SQLite.
    public let archiveDirectory: String
    let logger: Logger
    /// Every migration the database has recorded, oldest first, as the last ``migrate()`` found them.
    let applied = Mutex<[String]?>(nil)
    /// The server's pid of each pooled connection's session, by connection id (``bounded(_:)``'s watchdog).
    let backendPIDs = Mutex<[Int: Int32]>([:])

    /// `archiveDirectory` defaults to a temporary directory's (tests that never archive).
    public init(configuration: PostgresStoreConfiguration, archiveDirectory: String? = nil, logger: Logger) {
        self.configuration = configuration
        self.archiveDirectory = archiveDirectory ?? NSTemporaryDirectory() + "qbsyncd-archives"
        self.logger = logger
        client = PostgresClient(configuration: configuration.client, backgroundLogger: logger)
        health = StoreHealth()
    }

    /// Runs the pool until cancelled.
    public func run() async {
        await client.run()
    }

    /// Applies the migrations not yet applied, in order, in one transaction that holds the
    /// migration lock (of the schema): instances starting together wait for each other and apply each once.
    /// Returns the versions this call applied. A configured schema is created first if missing.
    @discardableResult
    public func migrate() async throws -> [String] {
        let schema = configuration.schema
        do {
            let (done, all) = try await client.withTransaction(logger: logger) { connection in
                if let schema {
                    // The migration lock first (it is re-entrant): two instances never race to create it.
                    try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresMigrations.lockKey(schema: schema)))", logger: self.logger)
                    try await connection.query("CREATE SCHEMA IF NOT EXISTS \(unescaped: schema)", logger: self.logger)
                }
                let done = try await PostgresMigrations.apply(on: connection, schema: schema, logger: self.logger)
                let recorded = try await connection.collect("SELECT version FROM qbsyncd_schema_migrations", logger: self.logger, String.self)
                return (done, recorded)
            }
            // In the order they apply (one transaction's rows share a time); any unknown to this build last.
            let known = PostgresMigrations.all.map(\.version)
            applied.withLock { $0 = known.filter(all.contains) + all.filter { !known.contains($0) }.sorted() }
            return done
        } catch {
            throw StoreError(.migrationFailed, "the PostgreSQL schema could not be brought up to date: \(PostgresFailure.describe(error))")
        }
    }

    /// One transaction under the operation deadline (``bounded(_:)``); its outcome is recorded in ``health``.
    func write<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        do {
            let logger = logger
            let result = try await bounded { connection in
                try await connection.guardedTransaction(logger: logger) { connection in
                    if let lease = CompanyFence.lease { try await Self.checkFence(lease, on: connection, logger: logger) }
                    return try await body(connection)
                }
            }
            health.writeSucceeded()
            return result
        } catch {
            let failure = PostgresFailure.unwrap(error)
            if Self.isStoreFailure(failure) {
                health.writeFailed(failure is PostgresNotAnswering || failure is PostgresConnectionClosed ? failure : PostgresFailure(failure))
            }
            throw failure
        }
    }

    /// The fence of a write made under a company's lease (``CompanyFence``): its row is read
    /// `FOR KEY SHARE`, so a takeover (which locks the row `FOR UPDATE` first) waits for this commit,
    /// and the write goes on only while the lease is this holder's, of this generation, unexpired.
    /// Otherwise the transaction ends here with ``CompanyLeaseLost`` and nothing of it is written.
    ///
    /// Not `FOR SHARE`: the holder's own heartbeat (an `UPDATE` of the expiry, a no-key update) does
    /// not wait for its work in flight, such as a token refresh whose transaction spans the call to
    /// Intuit; otherwise a slow Intuit stalls the instance's every renewal and takeover.
    static func checkFence(_ lease: CompanyLease, now: Date = Date(), on connection: PostgresConnection, logger: Logger) async throws {
        let stored = try await CompanyLeaseRepository.lease(lease.realmID, lock: "FOR KEY SHARE", on: connection, logger: logger)
        guard LeaseRules().admits(instance: lease.owner, generation: lease.generation, stored: stored, now: now) else {
            throw CompanyLeaseLost(realmID: lease.realmID, generation: lease.generation)
        }
    }

    /// Whether a failure says the store cannot write now: the server's or the connection's (not
    /// one row's, nor the caller's own errors), or the pool's giving up on connecting.
    static func isStoreFailure(_ error: any Error) -> Bool {
        if error is PSQLError { return !PostgresFailure.isAboutOneRow(error) }
        if error is PostgresNotAnswering || error is PostgresConnectionClosed { return true }
        // postgres-nio's pool fails waiters with its ConnectionPoolError, a type of an underscored module.
        return String(reflecting: type(of: error)).hasSuffix("ConnectionPoolError")
    }

    /// A read on one pooled connection, under the operation deadline (``bounded(_:)``).
    func read<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        try await bounded { connection in try await body(connection) }
    }
}
