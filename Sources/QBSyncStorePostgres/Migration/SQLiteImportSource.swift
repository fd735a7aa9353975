import Foundation
import GRDB

/// A refusal or failure of `qbsyncd --migrate-to`: what happened and what to do, never a value of
/// a row (tokens, QuickBooks data) nor the database URL's password.
public struct SQLiteImportError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The SQLite store being moved (`<state dir>/qbsyncd.sqlite`), open for the copy: checked intact,
/// at the schema this build knows, its data read through a read-only connection while a second
/// connection holds SQLite's write lock (`BEGIN IMMEDIATE`, never a write), so no daemon or other
/// process can change it during the copy, and one that holds the lock now is refused.
public final class SQLiteImportSource: Sendable {
    public let path: String
    let reader: DatabaseQueue
    let lock: DatabaseQueue

    private init(path: String, reader: DatabaseQueue, lock: DatabaseQueue) {
        self.path = path
        self.reader = reader
        self.lock = lock
    }

    /// Refuses an absent, unreadable or damaged file, a store at another schema version, and a
    /// store whose write lock another process holds.
    public static func open(path: String) throws(SQLiteImportError) -> SQLiteImportSource {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw SQLiteImportError("there is no SQLite store at \(path): nothing to migrate (is the state directory the one the daemon uses?)")
        }
        var readOnly = Configuration()
        readOnly.readonly = true
        readOnly.busyMode = .timeout(5)
        readOnly.label = "qbsyncd-migrate-read"
        let reader: DatabaseQueue
        do {
            reader = try DatabaseQueue(path: path, configuration: readOnly)
            let problems = try reader.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check(5)") }
            guard problems == ["ok"] else {
                try? reader.close()  // try?: the damage is the error to report
                throw SQLiteImportError(
                    "\(path) is damaged (quick_check: \(problems.joined(separator: "; ").prefix(300))): nothing was copied; restore it from a backup first"
                )
            }
        } catch let error as SQLiteImportError {
            throw error
        } catch {
            throw SQLiteImportError("\(path) is not a readable SQLite database (\(describe(error))): nothing was copied")
        }
        // The lock: a read-write connection that only ever takes the write lock and rolls back.
        var locking = Configuration()
        locking.busyMode = .immediateError
        // The transaction stays open across the copy, on purpose: it is the lock.
        locking.allowsUnsafeTransactions = true
        locking.label = "qbsyncd-migrate-lock"
        let lock: DatabaseQueue
        do {
            lock = try DatabaseQueue(path: path, configuration: locking)
            try lock.inDatabase { db in try db.execute(sql: "BEGIN IMMEDIATE") }
        } catch {
            try? reader.close()  // try?: the lock's failure is the error to report
            if let error = error as? DatabaseError, error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
                throw SQLiteImportError("another process holds the write lock of \(path): stop qbsyncd (and anything else writing it) before migrating")
            }
            throw SQLiteImportError("cannot take the write lock of \(path) (\(describe(error))): run --migrate-to as the daemon's user, with the daemon stopped")
        }
        let source = SQLiteImportSource(path: path, reader: reader, lock: lock)
        do {
            try source.checkMigrations()
        } catch {
            source.close()
            throw error
        }
        return source
    }

    /// The SQLite migrations this build's PostgreSQL schema translates (the `pg…` ones are PostgreSQL's own).
    static var expectedMigrations: [String] { PostgresMigrations.all.map(\.version).filter { !$0.hasPrefix("pg") } }

    private func checkMigrations() throws(SQLiteImportError) {
        let applied: [String]
        do {
            applied = try reader.read { db in
                guard try db.tableExists("grdb_migrations") else { return [] }
                return try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid")
            }
        } catch {
            throw SQLiteImportError("cannot read the schema version of \(path) (\(Self.describe(error)))")
        }
        let expected = Self.expectedMigrations
        let unknown = applied.filter { !expected.contains($0) }
        guard unknown.isEmpty else {
            throw SQLiteImportError("\(path) was migrated by a newer qbsyncd (\(unknown.joined(separator: ", "))): run --migrate-to with that version")
        }
        let missing = expected.filter { !applied.contains($0) }
        guard missing.isEmpty else {
            throw SQLiteImportError(
                "\(path) is at an older schema (lacks \(missing.joined(separator: ", "))): start this qbsyncd on it once (it migrates on start), stop it, then run --migrate-to again"
            )
        }
    }

    /// Releases the write lock (nothing was written) and closes both connections.
    public func close() {
        _ = try? lock.inDatabase { db in try db.execute(sql: "ROLLBACK") }  // try?: closing rolls back too
        try? lock.close()  // try?: nothing was written through either connection
        try? reader.close()
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError { return "SQLite error \(error.resultCode.rawValue): \(error.message ?? "unknown")" }
        return String(describing: error)
    }
}
