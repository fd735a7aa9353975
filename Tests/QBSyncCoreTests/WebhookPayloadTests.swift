import Foundation
import Testing
import QBSyncCore

/// Intuit's two webhook formats, CloudEvents first.
@Suite struct WebhookPayloadTests {
    @Test func cloudEventsOfSeveralCompaniesWithNumericIdsAreParsedAndTheBadOnesCounted() {
        let body = #"""
            [{"specversion":"1.0","id":"a1","type":"qbo.invoice.updated.v1","time":"2026-11-30T10:00:00.123Z","intuitentityid":"130","intuitaccountid":"111"},
             {"specversion":"1.0","id":42,"type":"qbo.payment.void.v1","time":"2026-11-30T10:00:01Z","intuitentityid":77,"intuitaccountid":222},
             {"specversion":"1.0","id":"a3","type":"qbo.invoice.updated.v1","intuitentityid":"1"},
             {"specversion":"1.0","id":"a4","type":"account.created","intuitentityid":"1","intuitaccountid":"111"}]
            """#
        let parsed = WebhookPayload.parseDelivery(Data(body.utf8))
        #expect(parsed.format == .cloudevents)
        #expect(parsed.events.map(\.realmID) == ["111", "222"])
        #expect(parsed.events[1].entityID == "77" && parsed.events[1].cloudEventID == "42")
        #expect(parsed.events[1].type == "payment.voided" && parsed.events[1].operation == "Void")
        #expect(parsed.events[0].dedupeKey == "ce:a1", "Intuit keeps the id across retries")
        #expect(parsed.unparsed.count == 2)
        #expect(parsed.unparsed[0].contains("a3") && parsed.unparsed[0].contains("intuitaccountid"))
        #expect(WebhookPayload.parseDelivery(Data("not json".utf8)).unparsed == ["the body is not JSON"])
        #expect(WebhookPayload.parseDelivery(Data("[]".utf8)) == .init(format: .cloudevents, events: [], unparsed: []))
    }

    @Test func classicTimesInMillisecondsAndTwoChangesInOneSecondStayTwo() {
        let body = #"""
            {"eventNotifications":[{"realmId":123,"dataChangeEvent":{"entities":[
              {"name":"Invoice","id":"5","operation":"Update","lastUpdated":1764496800000},
              {"name":"Invoice","id":"5","operation":"Update","lastUpdated":"1764496800000"}]}}]}
            """#
        let parsed = WebhookPayload.parseDelivery(Data(body.utf8))
        #expect(parsed.format == .classic)
        #expect(parsed.events.count == 2)
        #expect(parsed.events[0].realmID == "123")
        #expect(parsed.events[0].lastUpdated == "2025-11-30T10:00:00.000Z")
        #expect(parsed.events[0].dedupeKey != parsed.events[1].dedupeKey)
        // Intuit's retry sends the same bytes: the same keys.
        #expect(WebhookPayload.parseDelivery(Data(body.utf8)).events.map(\.dedupeKey) == parsed.events.map(\.dedupeKey))
    }
}
