import Crypto
import Foundation
import Logging
import NIOCore
import QBOSimulator
import QBSyncCore
import QBTestSupport
import Synchronization
import Testing

/// Intuit's per-realm limits, and webhooks delivered to a real receiver.
@Suite(.timeLimit(.minutes(2))) struct ThrottlingAndWebhookTests {
    @Test func fiveHundredRequestsAMinutePerRealmThenTheXMLThrottleAnswer() async throws {
        let f = try await SimFixture.start()
        defer { f.cleanUp() }
        let (client, grant) = (f.client, f.grant)
        let path = "/v3/company/\(grant.realmID)/companyinfo/\(grant.realmID)"
        var statuses: [Int: Int] = [:]
        var throttleBody = ""
        for _ in 0..<510 {
            let reply = try await client.get(path, token: grant.access)
            statuses[reply.status, default: 0] += 1
            if reply.status == 429 { throttleBody = reply.text }
        }
        #expect(statuses[200] == 500)
        #expect(statuses[429] == 10)
        #expect(throttleBody.contains("<Error code=\"3001\""))
        #expect(throttleBody.contains("message=ThrottleExceeded; errorCode=003001; statusCode=429"))
        #expect(try await client.get("/sim/companies/\(grant.realmID)").json["counters"]?["throttled"] == 10)

        // Another company has its own budget.
        let other = try await client.post("/sim/companies", json: ["name": "Second"]).json["realmId"]!.stringValue!
        let second = try await client.connect(realmID: other)
        #expect(try await client.get("/v3/company/\(other)/companyinfo/\(other)", token: second.access).status == 200)
    }

    @Test func tenConcurrentRequestsPerRealm() async throws {
        let f = try await SimFixture.start()
        defer { f.cleanUp() }
        let (client, grant) = (f.client, f.grant)
        // Every request is held 500 ms, so 14 at once cannot all be in flight.
        _ = try await client.post("/sim/faults", json: ["realmId": .string(grant.realmID), "delayMs": 500, "count": 14])
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<14 {
                group.addTask { try await client.get("/v3/company/\(grant.realmID)/companyinfo/\(grant.realmID)", token: grant.access).status }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.filter { $0 == 200 }.count == 10)
        #expect(statuses.filter { $0 == 429 }.count == 4)
    }

    @Test func injectedFaultsAnswerAsIntuitsInfrastructureDoes() async throws {
        let f = try await SimFixture.start()
        defer { f.cleanUp() }
        let (client, grant) = (f.client, f.grant)
        let path = "/v3/company/\(grant.realmID)/companyinfo/\(grant.realmID)"
        _ = try await client.post("/sim/faults", json: ["path": "/companyinfo", "status": 500, "count": 1])
        let system = try await client.get(path, token: grant.access)
        #expect(system.status == 500)
        #expect(system.json["Fault"]?["type"] == "SystemFault")
        _ = try await client.post("/sim/faults", json: ["status": 503, "count": 1])
        #expect(try await client.get(path, token: grant.access).status == 503)
        _ = try await client.post("/sim/faults", json: ["fault": "drop", "count": 1])
        await #expect(throws: (any Error).self) { _ = try await client.get(path, token: grant.access) }
        #expect(try await client.get(path, token: grant.access).status == 200, "faults are used up")
    }

    @Test(arguments: ["classic", "cloudevents"])
    func changesArriveSignedInEachFormat(format: String) async throws {
        let f = try await SimFixture.start(webhooks: .init(format: format))
        defer { f.cleanUp() }
        let (receiver, client, grant) = (f.receiver!, f.client, f.grant)
        let customer = try await client.post("/v3/company/\(grant.realmID)/customer", json: ["DisplayName": "Hook Co"], token: grant.access).json["Customer"]!
        let invoice = try await client.post(
            "/v3/company/\(grant.realmID)/invoice",
            json: ["CustomerRef": ["value": customer["Id"]!], "Line": [["Amount": 10, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": ["ItemRef": ["value": "1"]]]]],
            token: grant.access
        ).json["Invoice"]!
        _ = try await client.post("/sim/companies/\(grant.realmID)/invoices/\(invoice["Id"]!.stringValue!)/pay", json: [:])
        _ = try await client.post("/sim/webhooks/flush", json: [:])

        // Every change (customer and invoice creates, the payment and the invoice update it causes)
        // arrives, signed over the exact bytes.
        let events = try await eventually("four change events delivered") { () -> [(String, String, String)]? in
            let events = receiver.all.flatMap { delivery -> [(String, String, String)] in
                guard let json = try? JSONDecoder().decode(JSONValue.self, from: delivery.body) else { return [] }
                if format == "classic" {
                    return (json["eventNotifications"]?.arrayValue ?? []).flatMap { note in
                        (note["dataChangeEvent"]?["entities"]?.arrayValue ?? []).map { ($0["name"]!.stringValue!, $0["id"]!.stringValue!, $0["operation"]!.stringValue!) }
                    }
                }
                return (json.arrayValue ?? []).map { event in
                    let parts = event["type"]!.stringValue!.split(separator: ".")
                    return (String(parts[1]), event["intuitentityid"]!.stringValue!, String(parts[2]))
                }
            }
            return events.count >= 4 ? events : nil
        }
        #expect(receiver.all.allSatisfy { $0.verified }, "intuit-signature verifies with the verifier token")
        let invoiceID = invoice["Id"]!.stringValue!
        if format == "classic" {
            #expect(events.contains { $0 == ("Customer", customer["Id"]!.stringValue!, "Create") })
            #expect(events.contains { $0 == ("Invoice", invoiceID, "Create") })
            #expect(events.contains { $0.0 == "Payment" && $0.2 == "Create" })
            #expect(events.contains { $0 == ("Invoice", invoiceID, "Update") })
            #expect(receiver.all.first?.contentType == "application/json")
        } else {
            #expect(events.contains { $0 == ("invoice", invoiceID, "created") })
            #expect(events.contains { $0.0 == "payment" && $0.2 == "created" })
            #expect(events.contains { $0 == ("invoice", invoiceID, "updated") })
            let first = try JSONDecoder().decode(JSONValue.self, from: receiver.all[0].body).arrayValue![0]
            #expect(first["specversion"] == "1.0")
            #expect(first["intuitaccountid"] == .string(grant.realmID))
        }
    }

    @Test func aFailedDeliveryIsRetriedInOrderOnIntuitsSchedule() async throws {
        let f = try await SimFixture.start(webhooks: .init(format: "classic", failures: 1))
        defer { f.cleanUp() }
        let (receiver, client, grant) = (f.receiver!, f.client, f.grant)
        _ = try await client.post("/v3/company/\(grant.realmID)/customer", json: ["DisplayName": "First"], token: grant.access)
        _ = try await eventually("the first attempt") { receiver.all.count >= 1 ? true : nil }
        _ = try await client.post("/v3/company/\(grant.realmID)/customer", json: ["DisplayName": "Second"], token: grant.access)
        // The later change is held behind the failed one until the retry (10 s of simulated time).
        #expect(receiver.all.count == 1)
        _ = try await client.post("/sim/clock", json: ["advanceSeconds": 11])
        let all = try await eventually("the retry and the held change") { receiver.all.count >= 3 ? receiver.all : nil }
        #expect(all[0].body == all[1].body, "the retry sends the same delivery")
        #expect(String(decoding: all[2].body, as: UTF8.self).contains("\"operation\":\"Create\""))
        #expect(all.allSatisfy { $0.verified })
    }

    @Test func simVoidAndDeleteActAsAUserInTheUIAndDuplicatesAreOptional() async throws {
        let f = try await SimFixture.start(webhooks: .init(format: "classic"), environment: ["QBOSIM_DUPLICATE_RATE": "1"])
        defer { f.cleanUp() }
        let (receiver, client, grant) = (f.receiver!, f.client, f.grant)
        let customer = try await client.post("/v3/company/\(grant.realmID)/customer", json: ["DisplayName": "UI Co"], token: grant.access).json["Customer"]!
        var invoices: [String] = []
        for _ in 0..<2 {
            let invoice = try await client.post(
                "/v3/company/\(grant.realmID)/invoice",
                json: ["CustomerRef": ["value": customer["Id"]!], "Line": [["Amount": 10, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": ["ItemRef": ["value": "1"]]]]],
                token: grant.access
            ).json["Invoice"]!
            invoices.append(invoice["Id"]!.stringValue!)
        }
        _ = try await client.post("/sim/webhooks/flush", json: [:])
        let before = receiver.all.count
        #expect(try await client.post("/sim/companies/\(grant.realmID)/invoices/\(invoices[0])/void", json: [:]).json["Invoice"]?["TotalAmt"] == 0)
        #expect(try await client.post("/sim/companies/\(grant.realmID)/invoices/\(invoices[1])/delete", json: [:]).json["Invoice"]?["status"] == "Deleted")
        _ = try await client.post("/sim/webhooks/flush", json: [:])
        let later = try await eventually("void and delete delivered twice") { () -> [String]? in
            let bodies = receiver.all.dropFirst(before).map { String(decoding: $0.body, as: UTF8.self) }
            return bodies.count >= 2 ? bodies : nil
        }
        // QBOSIM_DUPLICATE_RATE=1: every delivery is sent twice, so the first two bodies are one
        // delivery and its copy (without duplicates, consecutive deliveries carry different events).
        #expect(later[0] == later[1], "a duplicate is the same delivery again")
        let operations = later.joined()
        #expect(operations.contains("\"operation\":\"Void\""))
        #expect(operations.contains("\"operation\":\"Delete\""))
        let company = try await client.get("/sim/companies/\(grant.realmID)").json
        #expect(company["invoices"]?.arrayValue?.first { $0["Id"] == .string(invoices[0]) }?["voided"] == true)
        #expect(company["invoices"]?.arrayValue?.first { $0["Id"] == .string(invoices[1]) }?["status"] == "Deleted")
    }
}
