import Foundation
import QBSyncCore
import QBTestSupport
import Testing

/// CloudEvents as Intuit now sends them: POSTs mixing companies, ids fixed when the change is
/// recorded; and webhook loss for benchmarks.
@Suite(.timeLimit(.minutes(2))) struct CloudEventsDeliveryTests {
    static func events(_ delivery: WebhookReceiver.Delivery) -> [JSONValue] {
        ((try? JSONDecoder().decode(JSONValue.self, from: delivery.body))?.arrayValue) ?? []
    }

    @Test func onePostMixesCompaniesAndEventIDsSurviveRetriesAndDuplicates() async throws {
        let f = try await SimFixture.start(webhooks: .init(format: "cloudevents", failures: 1), environment: ["QBOSIM_DUPLICATE_RATE": "1"])
        defer { f.cleanUp() }
        let (receiver, client, first) = (f.receiver!, f.client, f.grant)
        let otherRealm = try await client.post("/sim/companies", json: ["name": "Second Co"]).json["realmId"]!.stringValue!
        let second = try await client.connect(realmID: otherRealm)

        // The first POST is answered 500 (its duplicate copy 200): it stays at the head of the queue.
        _ = try await client.post("/v3/company/\(first.realmID)/customer", json: ["DisplayName": "A One"], token: first.access)
        _ = try await eventually("the failed attempt and its duplicate") { receiver.all.count >= 2 ? true : nil }
        let b1 = try await client.post("/v3/company/\(otherRealm)/customer", json: ["DisplayName": "B One"], token: second.access).json["Customer"]!
        let a2 = try await client.post("/v3/company/\(first.realmID)/customer", json: ["DisplayName": "A Two"], token: first.access).json["Customer"]!
        #expect(receiver.all.count == 2, "later events are held behind the failing POST")

        _ = try await client.post("/sim/clock", json: ["advanceSeconds": 11])
        let all = try await eventually("the retry and the held events, each sent twice") { receiver.all.count >= 6 ? receiver.all : nil }
        #expect(all.count == 6)
        #expect(all.allSatisfy { $0.verified })
        #expect(all.allSatisfy { $0.contentType == "application/cloudevents-batch+json" })

        // The retry and the duplicates carry the same events with the same ids.
        #expect(all[0...3].allSatisfy { $0.body == all[0].body })
        #expect(all[4].body == all[5].body)
        let retried = Self.events(all[2])
        #expect(retried.count == 1)
        #expect(retried[0]["intuitaccountid"] == .string(first.realmID))

        // One POST carries both companies' events, in the order they happened, each with its own UUID.
        let mixed = Self.events(all[4])
        #expect(mixed.map { $0["intuitaccountid"] } == [.string(otherRealm), .string(first.realmID)])
        #expect(mixed.map { $0["intuitentityid"] } == [b1["Id"]!, a2["Id"]!])
        #expect(mixed.allSatisfy { $0["type"] == "qbo.customer.created.v1" })
        let ids = (retried + mixed).compactMap { $0["id"]?.stringValue }
        #expect(ids.count == 3)
        #expect(Set(ids).count == 3)
        #expect(ids.allSatisfy { UUID(uuidString: $0) != nil }, "\(ids)")
    }

    @Test func aHundredEventsAtMostInOnePost() async throws {
        // Nothing is sent until the flush: the receiver's URL is set only then.
        let f = try await SimFixture.start(webhooks: .init(configured: false))
        defer { f.cleanUp() }
        let (receiver, client, first) = (f.receiver!, f.client, f.grant)
        let otherRealm = try await client.post("/sim/companies", json: ["name": "Second Co"]).json["realmId"]!.stringValue!
        let second = try await client.connect(realmID: otherRealm)
        // Every POST fails until the flush: the sender's own retry (10 s on) may come first on a
        // loaded machine, and must not deliver the queue before the flush is asked to.
        receiver.record.failures.store(Int.max, ordering: .relaxed)
        _ = try await client.post("/sim/webhooks/config", json: ["url": .string(receiver.url)])
        _ = try await client.post("/v3/company/\(first.realmID)/customer", json: ["DisplayName": "Held"], token: first.access)
        _ = try await eventually("the failed attempt") { receiver.all.count >= 1 ? true : nil }
        // 120 changes in two companies queue behind the failed POST.
        for (realm, token) in [(first.realmID, first.access), (otherRealm, second.access)] {
            for chunk in 0..<2 {
                let items: [JSONValue] = (0..<30).map { ["bId": .string("\($0)"), "operation": "create", "Customer": ["DisplayName": .string("\(realm)-\(chunk)-\($0)")]] }
                #expect(try await client.post("/v3/company/\(realm)/batch", json: ["BatchItemRequest": .array(items)], token: token).status == 200)
            }
        }
        receiver.record.failures.store(0, ordering: .relaxed)
        let flushed = try await client.post("/sim/webhooks/flush", json: [:]).json
        let deliveries = flushed["deliveries"]?.arrayValue ?? []
        #expect(deliveries.map { $0["events"]?.intValue ?? 0 } == [1, 100, 20], "the held POST, then 120 events in POSTs of at most 100")
        if deliveries.count > 1 { #expect(deliveries[1]["realmIds"] == [.string(first.realmID), .string(otherRealm)]) }
    }

    @Test func theLossRateDropsEventsForGoodAndCountsThem() async throws {
        let f = try await SimFixture.start(webhooks: .init(), environment: ["QBOSIM_WEBHOOK_LOSS_RATE": "1"])
        defer { f.cleanUp() }
        let (receiver, client, grant) = (f.receiver!, f.client, f.grant)
        let prefix = "/v3/company/\(grant.realmID)"

        // Rate 1: the change is never delivered, not even by a flush.
        let lostCustomer = try await client.post(prefix + "/customer", json: ["DisplayName": "Lost Co"], token: grant.access).json["Customer"]!
        var flushed = try await client.post("/sim/webhooks/flush", json: [:]).json
        #expect(flushed["deliveries"] == [])
        #expect(flushed["webhooksLost"] == 1)

        // Half, from a seeded generator: every change is either delivered or counted lost.
        let config = try await client.post("/sim/webhooks/config", json: ["lossRate": 0.5, "seed": 42]).json
        #expect(config["lossRate"] == .double(0.5))
        let items: [JSONValue] = (0..<30).map { ["bId": .string("\($0)"), "operation": "create", "Customer": ["DisplayName": .string("Customer \($0)")]] }
        _ = try await client.post(prefix + "/batch", json: ["BatchItemRequest": .array(items)], token: grant.access)
        flushed = try await client.post("/sim/webhooks/flush", json: [:]).json
        let lost = Int(try #require(flushed["webhooksLost"]?.intValue)) - 1
        let delivered = try await eventually("every surviving event received") { () -> [JSONValue]? in
            let events = receiver.all.flatMap(Self.events)
            return events.count == 30 - lost ? events : nil
        }
        #expect(lost > 0 && lost < 30, "about half of 30 lost: \(lost)")
        #expect(!delivered.contains { $0["intuitentityid"] == lostCustomer["Id"]! }, "the change lost at rate 1 never came")
        #expect(try await client.get("/sim/usage").json["webhooksLost"] == .int(Int64(lost + 1)))

        // The same seed loses the same changes.
        _ = try await client.post("/sim/webhooks/config", json: ["lossRate": 0.5, "seed": 42])
        let again: [JSONValue] = (0..<30).map { ["bId": .string("\($0)"), "operation": "create", "Customer": ["DisplayName": .string("Again \($0)")]] }
        _ = try await client.post(prefix + "/batch", json: ["BatchItemRequest": .array(again)], token: grant.access)
        flushed = try await client.post("/sim/webhooks/flush", json: [:]).json
        #expect(flushed["webhooksLost"] == .int(Int64(2 * lost + 1)))
    }
}
