import Foundation
import QBSyncCore
import QBTestSupport
import Testing

/// A CDC answer holds at most 1,000 objects across the entities asked for, the oldest changes first,
/// so a client that moves `changedSince` to the newest time it received catches up.
@Suite(.timeLimit(.minutes(3))) struct CDCLimitTests {
    @Test func aThousandObjectsAtMostOldestFirstAndAClientCatchesUp() async throws {
        let f = try await SimFixture.start()
        defer { f.cleanUp() }
        let (client, grant) = (f.client, f.grant)
        let prefix = "/v3/company/\(grant.realmID)"
        let start = Timestamp.string(Date().addingTimeInterval(-60))
        let customer = try await client.post(prefix + "/customer", json: ["DisplayName": "Bulk Co"], token: grant.access).json["Customer"]!

        // 1,020 invoices in 34 batches of 30 (Intuit's batch limit).
        var invoiceIDs: [String] = []
        for _ in 0..<34 {
            let items: [JSONValue] = (0..<30).map { index in
                [
                    "bId": .string("\(index)"), "operation": "create",
                    "Invoice": ["CustomerRef": ["value": customer["Id"]!], "Line": [["Amount": 10, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": ["ItemRef": ["value": "1"]]]]],
                ]
            }
            let reply = try await client.post(prefix + "/batch", json: ["BatchItemRequest": .array(items)], token: grant.access).json
            invoiceIDs += (reply["BatchItemResponse"]?.arrayValue ?? []).compactMap { $0["Invoice"]?["Id"]?.stringValue }
        }
        #expect(invoiceIDs.count == 1020)
        // The newest changes: a payment (which updates the first invoice) and a deleted payment.
        let paid = try await client.post("/sim/companies/\(grant.realmID)/invoices/\(invoiceIDs[0])/pay", json: ["amount": 4]).json["Payment"]!
        let removed = try await client.post("/sim/companies/\(grant.realmID)/invoices/\(invoiceIDs[1])/pay", json: ["amount": 3]).json["Payment"]!
        _ = try await client.post("/sim/companies/\(grant.realmID)/payments/\(removed["Id"]!.stringValue!)/delete", json: [:])

        func cdc(since: String) async throws -> (invoices: [JSONValue], payments: [JSONValue]) {
            var components = URLComponents()
            components.queryItems = [URLQueryItem(name: "entities", value: "Invoice,Payment"), URLQueryItem(name: "changedSince", value: since)]
            let reply = try await client.get(prefix + "/cdc?" + components.percentEncodedQuery!.replacingOccurrences(of: "+", with: "%2B"), token: grant.access)
            #expect(reply.status == 200)
            let responses = reply.json["CDCResponse"]?.arrayValue?.first?["QueryResponse"]?.arrayValue ?? []
            #expect(responses.count == 2, "one QueryResponse per entity asked for")
            return (responses.first?["Invoice"]?.arrayValue ?? [], responses.last?["Payment"]?.arrayValue ?? [])
        }
        func updated(_ row: JSONValue) -> Date { IntuitTimeParsing.date(row["MetaData"]?["LastUpdatedTime"]?.stringValue ?? "") ?? .distantPast }

        let first = try await cdc(since: start)
        #expect(first.invoices.count + first.payments.count == 1000, "capped at 1,000 objects across the entities")
        #expect(first.payments.isEmpty, "the payments are the newest changes")
        #expect(!first.invoices.contains { $0["Id"] == .string(invoiceIDs[0]) }, "the paid invoice changed last")

        // Moving changedSince to the newest time received brings the rest.
        let newest = try #require(first.invoices.max { updated($0) < updated($1) }?["MetaData"]?["LastUpdatedTime"]?.stringValue)
        let second = try await cdc(since: newest)
        let rest = second.invoices + second.payments
        #expect(rest.count < 1000)
        #expect(rest.allSatisfy { updated($0) >= IntuitTimeParsing.date(newest)! }, "the first answer held the oldest changes")
        let seen = Set((first.invoices + second.invoices).compactMap { $0["Id"]?.stringValue })
        #expect(seen == Set(invoiceIDs), "every invoice came in one of the two answers")
        #expect(second.payments.first { $0["Id"] == paid["Id"]! }?["TotalAmt"] == 4)
        let stub = try #require(second.payments.first { $0["Id"] == removed["Id"]! })
        #expect(stub["status"] == "Deleted")
        #expect(stub["TotalAmt"] == nil, "a deleted payment is a stub")
    }
}

/// Intuit's `LastUpdatedTime` (milliseconds and an offset).
enum IntuitTimeParsing {
    static func date(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
    }
}
