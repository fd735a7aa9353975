import Foundation
import PostgresNIO
import QBSyncCore
import QBSyncStore
@testable import QBSyncStorePostgres
import Testing

/// The append-only tables refuse UPDATE, DELETE and TRUNCATE in the database itself, whoever asks.
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(3)))
struct AppendOnlyTests {
    @Test func theDeliveryLogRefusesUpdateDeleteAndTruncate() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                // Given a stored delivery with one event
                let outcomes = try await PostgresWebhookRepository(store: store).append([Deliveries.classic(entityID: "1")])
                guard case .stored(let id) = try #require(outcomes.first) else { Issue.record("not stored"); return }

                // Then no statement changes or removes it
                let update = await PostgresTestDatabase.refusal("UPDATE qb_webhook_deliveries SET signature = 'forged' WHERE id = \(id)", on: store)
                #expect(update?.state == "23001")
                #expect(update?.message == "the webhook delivery log is append-only")
                let delete = await PostgresTestDatabase.refusal("DELETE FROM qb_webhook_deliveries WHERE id = \(id)", on: store)
                #expect(delete?.state == "23001")
                #expect(delete?.message?.hasPrefix("the webhook delivery log is append-only") == true)
                #expect(await PostgresTestDatabase.refusal("TRUNCATE qb_webhook_deliveries CASCADE", on: store)?.state == "23001")
                #expect(try await PostgresTestDatabase.one("SELECT signature FROM qb_webhook_deliveries WHERE id = \(id)", as: String.self, on: store) == "sig")

                // And an event's facts are immutable while its processing state may move
                let facts = await PostgresTestDatabase.refusal("UPDATE qb_webhook_events SET entity_id = '2' WHERE delivery_id = \(id)", on: store)
                #expect(facts?.message == "webhook event facts are immutable")
                #expect(await PostgresTestDatabase.refusal("UPDATE qb_webhook_events SET status = 'processed' WHERE delivery_id = \(id)", on: store) == nil)
                #expect(await PostgresTestDatabase.refusal("DELETE FROM qb_webhook_events WHERE delivery_id = \(id)", on: store)?.state == "23001")
            }
        }
    }

    @Test func theInvoiceHistoryAndTheArchivesRefuseChangesToo() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                try await store.client.query(
                    """
                    INSERT INTO qb_invoice_history (at, org, demand_id, qbo_id, kind, status, qbo_state) VALUES (1, 'org-1', 'd-1', '42', 'created', 'Outstanding', 'active');
                    """,
                    logger: PostgresTestDatabase.logger
                )
                try await store.client.query(
                    """
                    INSERT INTO qb_log_archives (created_at, received_before, file, first_delivery_id, last_delivery_id, deliveries, events, sha256)
                    VALUES (1, 1, 'a.jsonl', 1, 1, 0, 0, 'abc')
                    """,
                    logger: PostgresTestDatabase.logger
                )
                for statement: PostgresQuery in [
                    "UPDATE qb_invoice_history SET status = 'Paid'", "DELETE FROM qb_invoice_history", "TRUNCATE qb_invoice_history",
                    "UPDATE qb_log_archives SET file = 'b'", "DELETE FROM qb_log_archives", "TRUNCATE qb_log_archives",
                ] {
                    #expect(await PostgresTestDatabase.refusal(statement, on: store)?.state == "23001", "\(statement.sql)")
                }
                #expect(try await PostgresTestDatabase.one("SELECT status FROM qb_invoice_history", as: String.self, on: store) == "Outstanding")
            }
        }
    }
}

/// Deliveries for the tests.
enum Deliveries {
    static let receivedAt = Date(timeIntervalSince1970: 1_800_000_000)

    static func classic(realmID: String = "9130000000000001", entityID: String, operation: String = "Update") -> IncomingDelivery {
        let body = #"{"eventNotifications":[{"realmId":"\#(realmID)","dataChangeEvent":{"entities":[{"name":"Invoice","id":"\#(entityID)","operation":"\#(operation)","lastUpdated":"2027-01-15T10:00:00.000Z"}]}}]}"#
        return IncomingDelivery(
            receivedAt: receivedAt, body: Data(body.utf8), signature: "sig", remoteAddress: "127.0.0.1", format: .classic,
            events: [
                WebhookEventFact(
                    realmID: realmID, entityName: "Invoice", entityID: entityID, operation: operation, lastUpdated: "2027-01-15T10:00:00.000Z",
                    type: "invoice.updated", cloudEventID: nil
                )
            ]
        )
    }

    static func cloudEvents(ids: [String], realmID: String = "9130000000000001", padding: String = "") -> IncomingDelivery {
        let body = "[" + ids.map { #"{"id":"\#($0)","type":"qbo.invoice.updated.v1","intuitaccountid":"\#(realmID)"\#(padding)}"# }.joined(separator: ",") + "]"
        return IncomingDelivery(
            receivedAt: receivedAt, body: Data(body.utf8), signature: "sig", remoteAddress: nil, format: .cloudevents,
            events: ids.map {
                WebhookEventFact(realmID: realmID, entityName: "Invoice", entityID: "7", operation: "Update", lastUpdated: nil, type: "invoice.updated", cloudEventID: $0)
            }
        )
    }
}
