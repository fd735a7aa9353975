import Crypto
import Foundation
import GRDB
public import Logging
import PostgresNIO
import QBSyncCore

/// What one import copied and checked, table by table, for the summary.
public struct SQLiteImportReport: Sendable {
    public struct Table: Sendable {
        public let name: String
        public let rows: Int
        /// `store_health`'s one row is the target's own (the migration made it), not copied.
        public let kept: Bool
        /// The webhook log's bodies: their SHA-256s, row by row, equal on both sides.
        public let bodiesVerified: Bool
    }

    public let tables: [Table]
    /// Identity columns set past the copied ids (and past SQLite's AUTOINCREMENT high-water mark).
    public let sequences: [(table: String, next: Int64)]

    /// One line per table, in copy order.
    public var lines: [String] {
        let width = (tables.map(\.name.count).max() ?? 0) + 2
        return tables.map { table in
            let name = table.name.padding(toLength: width, withPad: " ", startingAt: 0)
            let rows = "\(table.rows) row" + (table.rows == 1 ? "" : "s")
            let note = table.kept ? " (the target's own; not copied)" : table.bodiesVerified ? " (bodies' SHA-256 match)" : ""
            return name + rows + note
        }
    }
}

/// `qbsyncd --migrate-to`: copies every table of the SQLite store into an empty, migrated
/// PostgreSQL store, row for row, in one transaction, and checks the copy before committing.
///
/// The two schemas are translations of each other (docs/postgresql.md, "Schema notes"): the same
/// tables and columns, INTEGER as BIGINT (INTEGER for `store_health.id`), TEXT as TEXT, BLOB as
/// BYTEA, REAL as DOUBLE PRECISION, times as the same epoch integers. Each value is bound as the
/// PostgreSQL column declares (read from `information_schema`), so a value of another storage
/// class stops the copy instead of being converted. Sealed tokens are copied as they are: they
/// open with the same token key.
public enum SQLiteImport {
    /// PostgreSQL-only tables: must be empty too, but SQLite has nothing for them.
    static let postgresOnly: Set<String> = ["qb_company_leases", "qb_instances"]
    /// Made and filled by the migrations themselves: neither copied nor counted as data.
    static let schemaBookkeeping: Set<String> = ["qbsyncd_schema_migrations"]
    /// One row made by the v1 migration on both sides: kept, and its count compared.
    static let kept: Set<String> = ["store_health"]
    static let deliveries = "qb_webhook_deliveries"

    /// Runs the copy on a running, migrated `store`. Throws ``SQLiteImportError`` on any refusal
    /// or failure; the transaction then rolls back and the target stays as it was.
    public static func run(from source: SQLiteImportSource, into store: PostgresStore, logger: Logger) async throws(SQLiteImportError) -> SQLiteImportReport {
        let plan = try readPlan(source)
        do {
            return try await store.client.withTransaction(logger: logger) { connection in
                try await copy(plan, from: source, on: connection, logger: logger)
            }
        } catch let error as SQLiteImportError {
            throw error
        } catch {
            let failure = PostgresFailure.unwrap(error)
            if let failure = failure as? SQLiteImportError { throw failure }
            throw SQLiteImportError("the copy failed and was rolled back, the target is unchanged: \(PostgresFailure.describe(failure))")
        }
    }

    /// A SQLite table: its columns in order, its row count and AUTOINCREMENT high-water mark.
    struct SourceTable: Sendable {
        var name: String
        var columns: [String]
        var rows: Int
        var sequence: Int64
        var references: [String]
        var hasBlob: Bool
    }

    /// The SQLite side: every table but SQLite's and GRDB's own, in an order that puts each table
    /// after those its foreign keys reference.
    static func readPlan(_ source: SQLiteImportSource) throws(SQLiteImportError) -> [SourceTable] {
        let tables: [SourceTable]
        do {
            tables = try source.reader.read { db in
                let names = try String.fetchAll(
                    db, sql: "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'grdb_%' ORDER BY name"
                )
                var sequences: [String: Int64] = [:]
                if try db.tableExists("sqlite_sequence") {
                    for row in try Row.fetchAll(db, sql: "SELECT name, seq FROM sqlite_sequence") {
                        let name: String = row[0]
                        sequences[name] = row[1]
                    }
                }
                return try names.map { name in
                    let quoted = name.quotedDatabaseIdentifier
                    let info = try Row.fetchAll(db, sql: "PRAGMA table_info(\(quoted))")
                    let columns = info.map { row -> String in row["name"] }
                    let types = info.map { row -> String in (row["type"] as String? ?? "").uppercased() }
                    let references = try Row.fetchAll(db, sql: "PRAGMA foreign_key_list(\(quoted))").map { row -> String in row["table"] }
                    let rows = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(quoted)") ?? 0
                    return SourceTable(
                        name: name, columns: columns, rows: rows, sequence: sequences[name] ?? 0,
                        references: references.filter { $0 != name }, hasBlob: types.contains("BLOB")
                    )
                }
            }
        } catch {
            throw SQLiteImportError("cannot read the tables of \(source.path) (\(SQLiteImportSource.describe(error)))")
        }
        // Foreign keys first: a table comes after every table it references.
        var ordered: [SourceTable] = []
        var remaining = tables
        while !remaining.isEmpty {
            let placed = Set(ordered.map(\.name))
            guard let next = remaining.firstIndex(where: { table in table.references.allSatisfy { placed.contains($0) || !tables.map(\.name).contains($0) } }) else {
                throw SQLiteImportError("the foreign keys of \(source.path) form a cycle (\(remaining.map(\.name).joined(separator: ", ")))")
            }
            ordered.append(remaining.remove(at: next))
        }
        return ordered
    }

    /// A target column: its declared type, and whether it is an identity (its sequence is set after).
    struct TargetColumn: Sendable {
        var type: String
        var identity: Bool
    }

    static func copy(_ plan: [SourceTable], from source: SQLiteImportSource, on connection: PostgresConnection, logger: Logger) async throws -> SQLiteImportReport {
        // The target's own tables (in the store's schema) and their columns.
        var target: [String: [String: TargetColumn]] = [:]
        let columns = try await connection.query(
            """
            SELECT c.table_name::text, c.column_name::text, c.data_type::text, c.is_identity::text
            FROM information_schema.columns c JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
            WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
            """,
            logger: logger
        )
        for try await (table, column, type, identity) in columns.decode((String, String, String, String).self) {
            target[table, default: [:]][column] = TargetColumn(type: type, identity: identity == "YES")
        }
        // The schemas must be each other's translation: the same tables, the same columns.
        for table in plan {
            guard let declared = target[table.name] else {
                throw SQLiteImportError("the PostgreSQL schema has no table \(table.name): it is not this qbsyncd's schema; nothing was copied")
            }
            let missing = table.columns.filter { declared[$0] == nil }
            let extra = declared.keys.filter { !table.columns.contains($0) }.sorted()
            guard missing.isEmpty, extra.isEmpty else {
                throw SQLiteImportError(
                    "the columns of \(table.name) differ (only in SQLite: \(missing.joined(separator: ", ")); only in PostgreSQL: \(extra.joined(separator: ", "))); nothing was copied"
                )
            }
        }
        let ours = plan.map(\.name) + postgresOnly.filter { target[$0] != nil }.sorted()
        // Nothing may write these tables until the copy commits (a daemon starting on the target
        // meanwhile waits); then the target must hold no data: a migration never merges.
        try await connection.query("SET LOCAL lock_timeout = '10s'", logger: logger)
        try await connection.query(PostgresQuery(unsafeSQL: "LOCK TABLE \(ours.map(quoted).joined(separator: ", ")) IN EXCLUSIVE MODE"), logger: logger)
        var holding: [String] = []
        for table in ours where !kept.contains(table) {
            let found = try await connection.query(PostgresQuery(unsafeSQL: "SELECT EXISTS (SELECT 1 FROM \(quoted(table)))"), logger: logger)
            for try await exists in found.decode(Bool.self) where exists { holding.append(table) }
        }
        guard holding.isEmpty else {
            throw SQLiteImportError(
                "the PostgreSQL store already holds data (\(holding.joined(separator: ", "))): --migrate-to copies only into an empty store and never merges; give it a new schema (?schema=NAME) or database"
            )
        }

        var reports: [SQLiteImportReport.Table] = []
        var bodies: Data?
        for table in plan {
            if kept.contains(table.name) {
                reports.append(.init(name: table.name, rows: table.rows, kept: true, bodiesVerified: false))
                continue
            }
            let declared = target[table.name] ?? [:]
            let types = try table.columns.map { column throws(SQLiteImportError) -> String in
                guard let type = declared[column]?.type, bindable.contains(type) else {
                    throw SQLiteImportError("\(table.name).\(column) is \(declared[column]?.type ?? "?") in PostgreSQL: not a type a SQLite value maps to")
                }
                return type
            }
            let digest = try await copyRows(of: table, types: types, from: source, on: connection, logger: logger)
            if table.name == deliveries { bodies = digest }
            reports.append(.init(name: table.name, rows: table.rows, kept: false, bodiesVerified: table.name == deliveries))
        }

        // Identity columns past every id SQLite ever gave (AUTOINCREMENT never reuses one, even
        // of archived rows), so new rows never collide with copied ones.
        var sequences: [(table: String, next: Int64)] = []
        for table in plan {
            for (column, declared) in (target[table.name] ?? [:]).sorted(by: { $0.key < $1.key }) where declared.identity {
                var highest = table.sequence
                let max = try await connection.query(PostgresQuery(unsafeSQL: "SELECT COALESCE(MAX(\(quoted(column))), 0)::bigint FROM \(quoted(table.name))"), logger: logger)
                for try await value in max.decode(Int64.self) { highest = Swift.max(highest, value) }
                guard highest > 0 else { continue }
                try await connection.query("SELECT setval(pg_get_serial_sequence(\(quoted(table.name)), \(column)), \(highest), true)", logger: logger)
                sequences.append((table.name, highest + 1))
            }
        }

        // The check, before COMMIT: any difference rolls the whole copy back.
        for table in plan {
            let count = try await connection.query(PostgresQuery(unsafeSQL: "SELECT COUNT(*)::bigint FROM \(quoted(table.name))"), logger: logger)
            for try await rows in count.decode(Int64.self) where rows != Int64(table.rows) {
                throw SQLiteImportError("\(table.name) holds \(rows) rows in PostgreSQL after the copy, \(table.rows) in SQLite: rolled back, the target is unchanged")
            }
        }
        if let bodies {
            var hasher = SHA256()
            let digests = try await connection.query("SELECT id, sha256(body) FROM qb_webhook_deliveries ORDER BY id", logger: logger)
            for try await (id, digest) in digests.decode((Int64, Data).self) {
                hasher.update(data: bigEndian(id))
                hasher.update(data: digest)
            }
            guard Data(hasher.finalize()) == bodies else {
                throw SQLiteImportError("the webhook log's bodies differ after the copy (SHA-256): rolled back, the target is unchanged")
            }
        }
        return SQLiteImportReport(tables: reports, sequences: sequences)
    }

    /// The PostgreSQL types a SQLite value is bound as.
    static let bindable: Set<String> = ["bigint", "integer", "smallint", "text", "bytea", "double precision", "real", "boolean"]

    /// One SQLite value, as read.
    enum Cell: Sendable {
        case null, integer(Int64), real(Double), text(String), blob(Data)

        init(_ value: DatabaseValue) {
            switch value.storage {
            case .null: self = .null
            case .int64(let v): self = .integer(v)
            case .double(let v): self = .real(v)
            case .string(let v): self = .text(v)
            case .blob(let v): self = .blob(v)
            }
        }

        var storageClass: String {
            switch self {
            case .null: "NULL"
            case .integer: "INTEGER"
            case .real: "REAL"
            case .text: "TEXT"
            case .blob: "BLOB"
            }
        }
    }

    /// Copies one table in rowid order, a page at a time (the write lock keeps the pages one
    /// snapshot). For the webhook log, returns the running SHA-256 of its rows' (id, SHA-256(body)).
    static func copyRows(
        of table: SourceTable, types: [String], from source: SQLiteImportSource, on connection: PostgresConnection, logger: Logger
    ) async throws -> Data? {
        let page = table.hasBlob ? 100 : 1_000
        let select = "SELECT rowid, \(table.columns.map { $0.quotedDatabaseIdentifier }.joined(separator: ", ")) FROM \(table.name.quotedDatabaseIdentifier) WHERE rowid > ? ORDER BY rowid LIMIT ?"
        let insert = "INSERT INTO \(quoted(table.name)) (\(table.columns.map(quoted).joined(separator: ", "))) VALUES "
        let bodyIndex = table.name == deliveries ? table.columns.firstIndex(of: "body") : nil
        let idIndex = table.columns.firstIndex(of: "id")
        // SQLite's intake leaves a delivery's digest to its extraction (v13): one still listed gets
        // it here, so PostgreSQL's unique index knows every body that a replay check must.
        let digestIndex = bodyIndex == nil ? nil : table.columns.firstIndex(of: "body_sha256")
        let listed: Set<Int64>
        do {
            listed = digestIndex == nil ? [] : Set(try await source.reader.read { db in try Int64.fetchAll(db, sql: "SELECT delivery_id FROM qb_webhook_unexpanded") })
        } catch {
            throw SQLiteImportError("cannot read qb_webhook_unexpanded from \(source.path) (\(SQLiteImportSource.describe(error))): rolled back, the target is unchanged")
        }
        var hasher = SHA256()
        var last: Int64 = .min
        while true {
            let after = last
            let rows: [(rowid: Int64, cells: [Cell])]
            do {
                rows = try await source.reader.read { db in
                    try Row.fetchAll(db, sql: select, arguments: [after, page]).map { row in
                        let rowid: Int64 = row[0]
                        return (rowid, (1..<row.count).map { Cell(row[$0] as DatabaseValue) })
                    }
                }
            } catch {
                throw SQLiteImportError("cannot read \(table.name) from \(source.path) (\(SQLiteImportSource.describe(error))): rolled back, the target is unchanged")
            }
            guard let end = rows.last?.rowid else { break }
            last = end
            var binds = PostgresBindings(capacity: rows.count * types.count)
            var values: [String] = []
            for var row in rows {
                if let bodyIndex, let idIndex, case .integer(let id) = row.cells[idIndex], case .blob(let body) = row.cells[bodyIndex] {
                    let digest = Data(SHA256.hash(data: body))
                    hasher.update(data: bigEndian(id))
                    hasher.update(data: digest)
                    if let digestIndex, case .null = row.cells[digestIndex], listed.contains(id) { row.cells[digestIndex] = .blob(digest) }
                }
                values.append(SQLPlaceholders.row(first: binds.count + 1, types: types))
                for (index, cell) in row.cells.enumerated() {
                    try bind(cell, as: types[index], into: &binds, table: table.name, column: table.columns[index], rowid: row.rowid)
                }
            }
            // Only placeholders and names from the two schemas' catalogs are spliced into the text.
            try await connection.query(PostgresQuery(unsafeSQL: insert + values.joined(separator: ", "), binds: binds), logger: logger)
            if rows.count < page { break }
        }
        return bodyIndex == nil ? nil : Data(hasher.finalize())
    }

    /// Binds one SQLite value as its PostgreSQL column declares it; any other storage class stops
    /// the copy (naming the table, column and rowid, never the value).
    static func bind(_ cell: Cell, as type: String, into binds: inout PostgresBindings, table: String, column: String, rowid: Int64) throws(SQLiteImportError) {
        switch (type, cell) {
        case (_, .null): binds.appendNull()
        case ("bigint", .integer(let v)): binds.append(v)
        case ("integer", .integer(let v)) where Int32(exactly: v) != nil: binds.append(Int32(v))
        case ("smallint", .integer(let v)) where Int16(exactly: v) != nil: binds.append(Int16(v))
        case ("double precision", .real(let v)), ("real", .real(let v)): binds.append(v)
        case ("double precision", .integer(let v)), ("real", .integer(let v)): binds.append(Double(v))
        case ("text", .text(let v)): binds.append(v)
        case ("bytea", .blob(let v)):
            do { try binds.append(v) } catch { throw SQLiteImportError("\(table).\(column) (rowid \(rowid)) could not be bound as bytea: rolled back") }
        case ("boolean", .integer(let v)) where v == 0 || v == 1: binds.append(v == 1)
        default:
            throw SQLiteImportError(
                "\(table).\(column) (rowid \(rowid)) holds a SQLite \(cell.storageClass) where PostgreSQL declares \(type): nothing was copied (rolled back)"
            )
        }
    }

    static func quoted(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    static func bigEndian(_ value: Int64) -> Data { withUnsafeBytes(of: value.bigEndian) { Data($0) } }
}
