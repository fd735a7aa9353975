import Logging
import PostgresNIO
import QBSyncCore

/// One version of the schema: statements run in order, in the migrating transaction.
struct PostgresMigration: Sendable {
    let version: String
    let statements: [String]
}

/// The PostgreSQL schema: SQLite's migrations translated one for one (same version names,
/// same tables, columns, checks and append-only triggers), then what only several instances need.
/// A migration is never edited once released; a new SQLite migration is appended here too.
///
/// Types: SQLite's INTEGER is BIGINT, BLOB is BYTEA, and times keep the SQLite store's epoch
/// integers (milliseconds in the webhook log and history, seconds in `qb_configs`), so the
/// repositories bind the same values and a store can be copied across row for row.
enum PostgresMigrations {
    /// The advisory lock every migrating transaction takes first (`pg_advisory_xact_lock`; the
    /// bytes of "qbsyncmg"). Advisory locks are per database: a store in a schema of its own
    /// takes ``lockKey(schema:)`` instead, so stores in separate schemas migrate side by side.
    static let lockKey: Int64 = 0x7162_7379_6E63_6D67

    /// The migration lock of the store whose tables are in `schema` (nil: the database's default).
    static func lockKey(schema: String?) -> Int64 {
        guard let schema else { return lockKey }
        return lockKey ^ Int64(bitPattern: FNV1a.hash(schema.utf8))
    }

    static var all: [PostgresMigration] { v1ToV5 + v6ToV10 + v11On + instances }

    /// Applies, in the caller's transaction, every migration the database has not recorded.
    static func apply(on connection: PostgresConnection, schema: String? = nil, logger: Logger) async throws -> [String] {
        try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey(schema: schema)))", logger: logger)
        try await connection.query(
            "CREATE TABLE IF NOT EXISTS qbsyncd_schema_migrations (version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            logger: logger
        )
        var applied: Set<String> = []
        for try await version in try await connection.query("SELECT version FROM qbsyncd_schema_migrations", logger: logger).decode(String.self) {
            applied.insert(version)
        }
        var done: [String] = []
        for migration in all where !applied.contains(migration.version) {
            for statement in migration.statements {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
            try await connection.query("INSERT INTO qbsyncd_schema_migrations (version) VALUES (\(migration.version))", logger: logger)
            done.append(migration.version)
        }
        if !done.isEmpty { logger.info("PostgreSQL schema migrated", metadata: [LogKey.version: "\(done.last ?? "")", LogKey.count: "\(done.count)"]) }
        return done
    }

    /// The shared trigger function: refuses the statement with its first argument as the message
    /// (SQLSTATE 23001, restrict_violation: a constraint, not a store failure).
    static let refuseFunction = """
        CREATE FUNCTION qbsyncd_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION USING MESSAGE = TG_ARGV[0], ERRCODE = 'restrict_violation';
        END
        $$
        """

    /// A trigger refusing `events` (`UPDATE`, `DELETE`, `UPDATE OF a, b`) on each row of `table`.
    static func refuse(_ name: String, _ events: String, on table: String, _ message: String) -> String {
        "CREATE TRIGGER \(name) BEFORE \(events) ON \(table) FOR EACH ROW EXECUTE FUNCTION qbsyncd_refuse('\(message)')"
    }

    /// TRUNCATE skips row triggers: an append-only table refuses it too.
    static func refuseTruncate(_ name: String, on table: String, _ message: String) -> String {
        "CREATE TRIGGER \(name) BEFORE TRUNCATE ON \(table) FOR EACH STATEMENT EXECUTE FUNCTION qbsyncd_refuse('\(message)')"
    }
}
