public import GRDB
import Foundation
public import Logging
import QBSyncCore

/// The daemon's SQLite database (`<state dir>/qbsyncd.sqlite`): WAL, a busy timeout, versioned
/// migrations applied on open. One writer, concurrent readers (GRDB `DatabasePool`).
///
/// Repositories hold the SQL; services hold only ``StoreBackend`` and the store protocols, so a
/// PostgreSQL backend can follow.
public struct Store: Sendable {
    public let writer: any DatabaseWriter
    public let path: String
    /// The cached result of the last write and of the integrity check (``StoreHealth``).
    public let health: StoreHealth
    /// Digests of deliveries committed before their digest is indexed (``UndigestedDeliveries``).
    let undigested: UndigestedDeliveries
    /// A file up to this size is checked whole before it opens; a larger one has its tables other
    /// than the webhook log checked before, and the whole file after READY (``checkIntegrity()``),
    /// so start-up time does not grow with the log (F10).
    public static let fullStartCheckBytes: Int64 = 64 << 20
    /// WAL pages after which a commit checkpoints them into the database file (SQLite's default is
    /// 1,000). A checkpoint's fsync writes every distinct page it copies, at random places in a
    /// large file, and a commit's own fsync waits behind it on the disk: the webhook log's digest
    /// index alone dirties about one random page a delivery. On a store of 400,000 deliveries at a
    /// paced 2,000 deliveries/s, the intake's p99 was 11–13 ms at 1,000 pages, 9–10 ms at 500 and
    /// 7.5–8.5 ms at 250, with the same throughput (BENCHMARKS.md).
    public static let walCheckpointPages = 250

    /// Checks the state directory, opens (or creates) the database and migrates it.
    public static func open(stateDirectory: String, logger: Logger, fullStartCheckBytes: Int64 = Self.fullStartCheckBytes) throws(StoreError) -> Store {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: stateDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw StoreError(.stateDirectoryMissing, "the state directory \(stateDirectory) does not exist or is not a directory")
        }
        guard access(stateDirectory, W_OK | X_OK) == 0 else {
            throw StoreError(.stateDirectoryNotWritable, "the state directory \(stateDirectory) is not writable by this user (\(String(cString: strerror(errno))))")
        }
        let path = stateDirectory + "/qbsyncd.sqlite"
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.foreignKeysEnabled = true
        configuration.label = "qbsyncd"
        configuration.prepareDatabase { db in
            // WAL with synchronous=FULL: an acknowledged commit survives power loss, not only a crash.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // Smaller checkpoints, more often: a commit never waits behind a long one (see the constant).
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(walCheckpointPages)")
        }
        var integrity = StoreHealth.Integrity.ok
        if FileManager.default.fileExists(atPath: path) {
            let bytes = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0  // try?: unknown size checks whole
            if bytes > fullStartCheckBytes {
                logger.info("store over the whole-check size: its webhook log is checked after READY", metadata: [LogKey.bytes: "\(bytes)"])
                try checkIntact(path, tables: .allButLog)
                integrity = .checking
            } else {
                try checkIntact(path, tables: .all)
            }
        }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw StoreError(.openFailed, "cannot open \(path): \(Self.describe(error))")
        }
        do {
            try Migrations.migrator.migrate(pool)
        } catch {
            throw StoreError(.migrationFailed, "cannot migrate \(path): \(Self.describe(error))")
        }
        logger.debug("store opened", metadata: [LogKey.path: "\(path)"])
        return Store(writer: pool, path: path, health: StoreHealth(integrity: integrity), undigested: UndigestedDeliveries())
    }

    /// What the start-up check reads: the whole file, or every table but the webhook log's two
    /// (their pages are checked after READY).
    enum CheckScope { case all, allButLog }
    static let logTables: Set<String> = ["qb_webhook_deliveries", "qb_webhook_events"]

    /// Refuses a damaged file through a read-only connection, before anything writes to it: the
    /// delivery log and the tokens cannot be rebuilt, and a migration over bad pages could spread
    /// the damage.
    static func checkIntact(_ path: String, tables scope: CheckScope) throws(StoreError) {
        let advice = "nothing was changed: restore it from a backup, or salvage it with `sqlite3 \(path) .recover`"
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        var problems: [String] = []
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            problems = try queue.read { db in
                switch scope {
                case .all:
                    return try String.fetchAll(db, sql: "PRAGMA quick_check(5)")
                case .allButLog:
                    let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
                    var found: [String] = []
                    for table in tables where !logTables.contains(table) {
                        let result = try String.fetchAll(db, sql: "PRAGMA quick_check(\(table.quotedDatabaseIdentifier))")
                        if result != ["ok"] { found += result.map { "\(table): \($0)" } }
                    }
                    return found.isEmpty ? ["ok"] : found
                }
            }
            try queue.close()
        } catch {
            throw StoreError(.damaged, "\(path) is not a readable SQLite database (\(describe(error))); \(advice)")
        }
        guard problems == ["ok"] else {
            throw StoreError(.damaged, "\(path) is damaged (quick_check: \(problems.joined(separator: "; ").prefix(300))); \(advice)")
        }
    }

    /// The whole-file check a large store skipped at start: reads every page on a reader
    /// connection (writes go on) and records what it found in ``health``. Nothing when the start
    /// already checked the whole file.
    public func checkIntegrity() async {
        guard health.snapshot.integrity == .checking else { return }
        do {
            let problems = try await writer.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check(5)") }
            health.integrityChecked(problems == ["ok"] ? .ok : .damaged(String(problems.joined(separator: "; ").prefix(300))))
        } catch {
            health.integrityChecked(.damaged("the check could not read the file: \(Self.describe(error))"))
        }
    }

    /// Whether a write transaction can commit now: the periodic probe, whose result ``health``
    /// keeps (readers of health never wait in the writer queue).
    @discardableResult
    public func isWritable() async -> Bool {
        do {
            try await writer.write { db in try db.execute(sql: "UPDATE store_health SET checked_at = CURRENT_TIMESTAMP WHERE id = 1") }
            health.writeSucceeded()
            return true
        } catch {
            health.writeFailed(error)
            return false
        }
    }

    /// Whether a read answers (the watchdog's test of liveness: a full disk does not fail it).
    public func isReadable() async -> Bool {
        do {
            return try await writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM store_health") } != nil
        } catch {
            return false
        }
    }

    /// Checkpoints the WAL and closes the database.
    public func close() throws {
        if let pool = writer as? DatabasePool {
            _ = try? pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }  // try?: the WAL is checkpointed at the next open
            try pool.close()
        }
    }

    /// The current schema version (the last migration applied).
    public func appliedMigrations() throws -> [String] {
        try writer.read { db in try Migrations.migrator.appliedMigrations(db) }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            return "SQLite error \(error.resultCode.rawValue): \(error.message ?? "unknown")"
        }
        return String(describing: error)
    }
}
