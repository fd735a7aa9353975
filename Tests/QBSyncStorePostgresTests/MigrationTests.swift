import Foundation
import PostgresNIO
@testable import QBSyncStorePostgres
import Testing

/// The schema: applied once, under the advisory lock, however many instances start together.
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(3)))
struct MigrationTests {
    @Test func twoStoresOpeningTogetherApplyEachMigrationOnce() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            // Given two instances starting at the same moment on an empty database
            try await PostgresTestDatabase.withStore(schema: schema, migrate: false) { first in
                try await PostgresTestDatabase.withStore(schema: schema, migrate: false) { second in
                    // When both migrate at once
                    async let a = first.migrate()
                    async let b = second.migrate()
                    let (appliedByFirst, appliedBySecond) = try await (a, b)
                    // Then one applied everything, in order, and the other found nothing left to do
                    let all = PostgresMigrations.all.map(\.version)
                    #expect([appliedByFirst, appliedBySecond].contains(all))
                    #expect([appliedByFirst, appliedBySecond].contains([]))
                    let recorded = try await PostgresTestDatabase.all(
                        "SELECT version FROM qbsyncd_schema_migrations ORDER BY applied_at, version", as: String.self, on: first
                    )
                    #expect(Set(recorded) == Set(all) && recorded.count == all.count)
                    #expect(try await first.migrate() == [], "a later start applies nothing")
                }
            }
        }
    }

    @Test func theSchemaHoldsTheStoresTables() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                let tables = try await PostgresTestDatabase.all(
                    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = \(schema) ORDER BY 1", as: String.self, on: store
                )
                #expect(Set(tables).isSuperset(of: [
                    "qb_configs", "oauth_states", "qb_entity_mappings", "qb_entity_mappings_archive", "qb_items", "qb_read_meter", "qb_read_months",
                    "qb_webhook_deliveries", "qb_webhook_events", "qb_reconcile_state", "qb_payment_links", "qb_invoice_history", "qb_log_archives",
                    "qb_company_leases", "qbsyncd_schema_migrations", "store_health",
                ]))
            }
        }
    }
}

/// Where the store is: the URL's parts, without ever printing the password.
@Suite struct ConfigurationTests {
    @Test func aURLGivesHostPortUserAndDatabaseAndHidesThePassword() throws {
        let configuration = try PostgresStoreConfiguration(url: "postgres://qbsyncd:s3cr%40t@127.0.0.1:6543/qbsyncd?sslmode=disable", schema: "t_one")
        #expect(configuration.client.host == "127.0.0.1")
        #expect(configuration.client.port == 6543)
        #expect(configuration.client.username == "qbsyncd")
        #expect(configuration.client.password == "s3cr@t")
        #expect(configuration.client.database == "qbsyncd")
        #expect(!configuration.description.contains("s3cr"))
        #expect(configuration.client.options.additionalStartupParameters.contains { $0 == ("search_path", "t_one") })
    }

    @Test func aSocketDirectoryIsTheUnixSocketOfThePort() throws {
        let configuration = try PostgresStoreConfiguration(url: "postgresql://qbsyncd@/qbsyncd?host=/tmp/pg/socket&sslmode=disable")
        #expect(configuration.client.unixSocketPath == "/tmp/pg/socket/.s.PGSQL.5432")
    }

    @Test func otherURLsAndUnsafeSchemaNamesAreRefused() {
        #expect(throws: (any Error).self) { try PostgresStoreConfiguration(url: "mysql://u@h/db") }
        #expect(throws: (any Error).self) { try PostgresStoreConfiguration(url: "postgres://h/db") }
        #expect(throws: (any Error).self) { try PostgresStoreConfiguration(url: "postgres://u@h/db?sslmode=bogus") }
        #expect(throws: (any Error).self) { try PostgresStoreConfiguration(url: "postgres://u@h/db", schema: "x; DROP TABLE y") }
    }
}
