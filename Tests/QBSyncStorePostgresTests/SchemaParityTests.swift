import Foundation
import GRDB
import Logging
import PostgresNIO
import QBSyncStore
@testable import QBSyncStorePostgres
import QBTestSupport
import Testing

/// The same schema in both stores: every SQLite migration has its PostgreSQL twin of the same
/// name, in the same order, and every SQLite table has the same columns in PostgreSQL. A new
/// SQLite migration without its translation fails here.
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(3)))
struct SchemaParityTests {
    @Test func everySQLiteMigrationTableAndColumnHasItsPostgreSQLTwin() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let sqlite = try Store.open(stateDirectory: directory.path, logger: PostgresTestDatabase.logger)
        defer { try? sqlite.close() }  // try?: the directory is removed next anyway
        let versions = PostgresMigrations.all.map(\.version)
        let sqliteVersions = try sqlite.appliedMigrations()
        #expect(versions.filter { !$0.hasPrefix("pg") } == sqliteVersions, "SQLite's migrations, translated in order")
        #expect(!sqliteVersions.contains { $0.hasPrefix("pg") }, "the pg prefix is PostgreSQL's own")
        #expect(Set(versions).count == versions.count)

        let sqliteColumns: [String: Set<ColumnShape>] = try await sqlite.writer.read { db in
            var columns: [String: Set<ColumnShape>] = [:]
            let tables = try String.fetchAll(
                db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'grdb_%'"
            )
            for table in tables {
                columns[table] = Set(try db.columns(in: table).map {
                    ColumnShape(name: $0.name, type: $0.type.lowercased(), notNull: $0.primaryKeyIndex > 0 ? nil : $0.isNotNull)
                })
            }
            return columns
        }
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                var postgresColumns: [String: Set<ColumnShape>] = [:]
                let rows = try await store.client.query(
                    """
                    SELECT c.table_name::text, c.column_name::text, c.data_type::text, c.is_nullable::text,
                        EXISTS (SELECT 1 FROM information_schema.key_column_usage k JOIN information_schema.table_constraints t
                                ON t.constraint_name = k.constraint_name AND t.table_schema = k.table_schema
                                WHERE t.constraint_type = 'PRIMARY KEY' AND k.table_schema = c.table_schema AND k.table_name = c.table_name
                                    AND k.column_name = c.column_name)
                    FROM information_schema.columns c WHERE c.table_schema = \(schema)
                    """,
                    logger: PostgresTestDatabase.logger
                )
                for try await (table, column, type, nullable, primary) in rows.decode((String, String, String, String, Bool).self) {
                    let shape = ColumnShape(name: column, type: ColumnShape.sqliteType(ofPostgres: type), notNull: primary ? nil : nullable == "NO")
                    postgresColumns[table, default: []].insert(shape)
                }
                for (table, columns) in sqliteColumns.sorted(by: { $0.key < $1.key }) {
                    #expect(postgresColumns[table] == columns, "table \(table): \(columns.symmetricDifference(postgresColumns[table] ?? []))")
                }
            }
        }
    }
}

/// A column as both stores can compare it: name, SQLite's storage class, and NOT NULL (nil for a
/// primary key, which SQLite reports nullable when it is the rowid).
struct ColumnShape: Hashable, CustomStringConvertible {
    var name: String
    var type: String
    var notNull: Bool?

    static func sqliteType(ofPostgres type: String) -> String {
        switch type {
        case "bigint", "integer": "integer"
        case "bytea": "blob"
        default: type
        }
    }

    var description: String { "\(name) \(type)\(notNull == true ? " not null" : "")" }
}
