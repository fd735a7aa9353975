public import GRDB
import Foundation
public import Logging
import QBSyncCore

/// The daemon's SQLite database (`<state dir>/qbsyncd.sqlite`): WAL, a busy timeout, versioned
/// migrations applied on open. One writer, concurrent readers (GRDB `DatabasePool`).
///
/// Repositories hold the SQL; services never see it, so a PostgreSQL backend can follow.
public struct Store: Sendable {
    public let writer: any DatabaseWriter
    public let path: String

    /// Checks the state directory, opens (or creates) the database and migrates it.
    public static func open(stateDirectory: String, logger: Logger) throws(StoreError) -> Store {
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
        }
        if FileManager.default.fileExists(atPath: path) { try checkIntact(path) }
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
        return Store(writer: pool, path: path)
    }

    /// Refuses a damaged file through a read-only connection, before anything writes to it: the
    /// delivery log and the tokens cannot be rebuilt, and a migration over bad pages could spread
    /// the damage.
    static func checkIntact(_ path: String) throws(StoreError) {
        let advice = "nothing was changed: restore it from a backup, or salvage it with `sqlite3 \(path) .recover`"
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        let problems: [String]
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            problems = try queue.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check(5)") }
            try queue.close()
        } catch {
            throw StoreError(.damaged, "\(path) is not a readable SQLite database (\(describe(error))); \(advice)")
        }
        guard problems == ["ok"] else {
            throw StoreError(.damaged, "\(path) is damaged (quick_check: \(problems.joined(separator: "; ").prefix(300))); \(advice)")
        }
    }

    /// Whether a write transaction can commit now (for health checks).
    public func isWritable() async -> Bool {
        do {
            try await writer.write { db in try db.execute(sql: "UPDATE store_health SET checked_at = CURRENT_TIMESTAMP WHERE id = 1") }
            return true
        } catch {
            return false
        }
    }

    /// Checkpoints the WAL and closes the database.
    public func close() throws {
        if let pool = writer as? DatabasePool {
            _ = try? pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
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
