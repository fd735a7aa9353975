import Foundation
import PostgresNIO
import QBSyncCore
import QBSyncStore
@testable import QBSyncStorePostgres
import Testing

/// Group commit into the shared delivery log: one transaction and one multi-row INSERT per group,
/// replays recognised (F10) within a group, across groups and across instances.
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(3)))
struct WebhookAppendTests {
    /// Counts the INSERT statements run on the delivery table (a statement-level trigger of the test's own).
    static func countInsertStatements(on store: PostgresStore) async throws {
        for statement: PostgresQuery in [
            "CREATE TABLE test_insert_statements (at TIMESTAMPTZ NOT NULL DEFAULT now(), xid BIGINT NOT NULL DEFAULT txid_current())",
            """
            CREATE FUNCTION test_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO test_insert_statements DEFAULT VALUES; RETURN NULL; END $$
            """,
            "CREATE TRIGGER test_count_insert AFTER INSERT ON qb_webhook_deliveries FOR EACH STATEMENT EXECUTE FUNCTION test_count_insert()",
        ] {
            try await store.client.query(statement, logger: PostgresTestDatabase.logger)
        }
    }

    @Test func aGroupIsOneMultiRowInsertInOneTransactionAndItsReplayIsStoredNoMore() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                try await Self.countInsertStatements(on: store)
                let log = PostgresWebhookRepository(store: store)
                // Given a group of three deliveries, the third a replay of the first
                let a = Deliveries.classic(entityID: "1"), b = Deliveries.classic(entityID: "2")
                let outcomes = try await log.append([a, b, a])

                // Then two are stored, by one INSERT statement in one transaction, and the replay names the first
                guard case .stored(let idA) = outcomes[0], case .stored(let idB) = outcomes[1] else { Issue.record("\(outcomes)"); return }
                #expect(outcomes[2] == .duplicate(of: idA))
                #expect(idB == idA + 1)
                #expect(try await PostgresTestDatabase.one("SELECT COUNT(*) FROM test_insert_statements", as: Int64.self, on: store) == 1)
                let transactions = try await PostgresTestDatabase.one(
                    "SELECT COUNT(DISTINCT xmin::text) FROM qb_webhook_deliveries", as: Int64.self, on: store
                )
                #expect(transactions == 1)
                #expect(try await log.deliveryCount() == 2)

                // When Intuit sends the whole group again
                let replay = try await log.append([b, a])
                // Then nothing more is stored and each names its original
                #expect(replay == [.duplicate(of: idB), .duplicate(of: idA)])
                #expect(try await log.deliveryCount() == 2)
                #expect(try await PostgresTestDatabase.one("SELECT COUNT(*) FROM qb_webhook_events", as: Int64.self, on: store) == 2)
            }
        }
    }

    @Test func aCloudEventsRetryInANewBodyIsADuplicateOfTheFirst() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                let log = PostgresWebhookRepository(store: store)
                let first = try await log.append([Deliveries.cloudEvents(ids: ["ce-1", "ce-2"])])
                guard case .stored(let id) = first[0] else { Issue.record("\(first)"); return }
                // The same events in another body (Intuit's retry re-serialises), and in the same group one more retry
                let again = try await log.append([
                    Deliveries.cloudEvents(ids: ["ce-2", "ce-1"], padding: #","x":1"#), Deliveries.cloudEvents(ids: ["ce-3"]),
                    Deliveries.cloudEvents(ids: ["ce-3"], padding: #","y":2"#),
                ])
                #expect(again[0] == .duplicate(of: id))
                guard case .stored(let third) = again[1] else { Issue.record("\(again)"); return }
                #expect(again[2] == .duplicate(of: third), "a replay of an earlier delivery of the same group")
                #expect(try await log.deliveryCount() == 2)
            }
        }
    }

    @Test func twoInstancesAppendingTheSameBodyAtOnceStoreItOnce() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { first in
                try await PostgresTestDatabase.withStore(schema: schema) { second in
                    let delivery = Deliveries.classic(entityID: "5")
                    for round in 0..<5 {
                        let body = Deliveries.classic(entityID: "5-\(round)")
                        async let a = PostgresWebhookRepository(store: first).append([body, delivery])
                        async let b = PostgresWebhookRepository(store: second).append([body])
                        let (outcomesA, outcomesB) = try await (a, b)
                        let ids = Set([outcomesA[0].deliveryID, outcomesB[0].deliveryID])
                        #expect(ids.count == 1, "both answers name the one stored row")
                        #expect([outcomesA[0], outcomesB[0]].filter { if case .stored = $0 { true } else { false } }.count == 1)
                    }
                    #expect(try await PostgresWebhookRepository(store: first).deliveryCount() == 6)
                }
            }
        }
    }

    @Test func eventsOfAnUnknownCompanyAreIgnoredAndUnparsedOnesFailedAndAllAreListed() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                // Given an org connected to one company
                let tokens = PostgresTokenRepository(store: store, vault: TokenVault(key: .generate()))
                _ = try await tokens.connect(org: OrgID("org-a")!, realmID: "9130000000000001", environment: "sandbox", tokens: Tokens.pair("1"), now: Deliveries.receivedAt)
                var unparsable = Deliveries.classic(realmID: "9130000000000001", entityID: "3")
                unparsable.unparsed = ["the entity has no id"]
                let log = PostgresWebhookRepository(store: store)
                _ = try await log.append([Deliveries.classic(realmID: "9130000000000001", entityID: "1"), Deliveries.classic(realmID: "42", entityID: "2"), unparsable])

                let events = try await log.list(org: nil, status: nil, beforeID: nil, limit: 10)
                #expect(events.map(\.status) == ["failed", "pending", "ignored", "pending"], "newest first")
                #expect(events.last?.org == OrgID("org-a"))
                #expect(events[2].processError == "no organisation is connected to QuickBooks company 42")
                #expect(events[1].fact.realmID == "9130000000000001" && events[1].org == OrgID("org-a"))
                #expect(events[0].processError == "could not be parsed: the entity has no id" && events[0].org == nil)
                #expect(try await log.list(org: OrgID("org-a"), status: "pending", beforeID: nil, limit: 10).count == 2)
                #expect(try await log.list(org: nil, status: nil, beforeID: events[1].id, limit: 10).map(\.id) == [events[2].id, events[3].id])
                let found = try #require(try await log.find(id: events[3].id))
                #expect(found.id == events[3].id && found.fact == events[3].fact && found.status == events[3].status && found.receivedAt == events[3].receivedAt)
                #expect(try await log.find(id: 999_999) == nil)
                let counts = try await log.counts()
                #expect(counts.pending == 2 && counts.failed == 1)
            }
        }
    }
}
