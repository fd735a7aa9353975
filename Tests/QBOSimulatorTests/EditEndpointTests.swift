import Foundation
import QBSyncCore
import QBTestSupport
import Testing

/// `/sim/.../edit`: a QuickBooks user changing an invoice or a customer. The change is an update like
/// the API's: SyncToken up, LastUpdatedTime moved, in the change feed, told by an Update webhook.
@Suite(.timeLimit(.minutes(2))) struct EditEndpointTests {
    @Test func editsAreUpdatesAsAQuickBooksUserMakesThem() async throws {
        let f = try await SimFixture.start(webhooks: .init())
        defer { f.cleanUp() }
        let (receiver, client, grant) = (f.receiver!, f.client, f.grant)
        func post(_ path: String, _ json: JSONValue) async throws -> JSONValue { try await f.post(path, json).json }
        func get(_ path: String) async throws -> JSONValue { try await f.get(path).json }
        let customer = try await post("/customer", ["DisplayName": "Edit Co", "PrimaryEmailAddr": ["Address": "a@edit.example"]])["Customer"]!
        let other = try await post("/customer", ["DisplayName": "Other Co"])["Customer"]!
        let invoice = try await post("/invoice", [
            "CustomerRef": ["value": customer["Id"]!], "DocNumber": "E-1", "DueDate": "2099-12-31",
            "Line": [
                ["Amount": 100, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": ["ItemRef": ["value": "1"]]],
                ["Amount": 50, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": ["ItemRef": ["value": "1"]]],
            ],
        ])["Invoice"]!
        let invoiceID = invoice["Id"]!.stringValue!
        let customerID = customer["Id"]!.stringValue!
        _ = try await client.post("/sim/webhooks/flush", json: [:])
        let before = receiver.all.count
        _ = try await client.post("/sim/clock", json: ["advanceSeconds": 5])

        // Line amounts by position, the due date, the number and the customer, in one edit.
        let edited = try await client.post(
            "/sim/companies/\(grant.realmID)/invoices/\(invoiceID)/edit",
            json: ["Line": ["120.50", ["Amount": 50]], "DueDate": "2099-06-30", "DocNumber": "E-1B", "CustomerRef": other["Id"]!]
        )
        #expect(edited.status == 200)
        let stored = try #require(try await get("/invoice/\(invoiceID)")["Invoice"])
        #expect(stored["SyncToken"] == "1")
        #expect(stored["TotalAmt"] == 170.5)
        #expect(stored["Balance"] == 170.5)
        #expect(stored["DueDate"] == "2099-06-30")
        #expect(stored["DocNumber"] == "E-1B")
        #expect(stored["CustomerRef"]?["value"] == other["Id"])
        #expect(stored["Line"]?.arrayValue?.first?["SalesItemLineDetail"]?["ItemRef"]?["value"] == "1", "the lines keep their item")
        #expect(stored["MetaData"]?["LastUpdatedTime"] != invoice["MetaData"]?["LastUpdatedTime"])

        // TotalAmt alone: the first line takes the difference.
        _ = try await client.post("/sim/companies/\(grant.realmID)/invoices/\(invoiceID)/edit", json: ["TotalAmt": 80])
        let totalled = try #require(try await get("/invoice/\(invoiceID)")["Invoice"])
        #expect(totalled["TotalAmt"] == 80)
        #expect(totalled["Line"]?.arrayValue?.first?["Amount"] == 30)
        #expect(totalled["SyncToken"] == "2")

        // A customer: name and e-mail.
        let renamed = try await client.post("/sim/companies/\(grant.realmID)/customers/\(customerID)/edit", json: ["DisplayName": "Edit Co Ltd", "PrimaryEmailAddr": "b@edit.example"])
        #expect(renamed.status == 200)
        let person = try #require(try await get("/customer/\(customerID)")["Customer"])
        #expect(person["DisplayName"] == "Edit Co Ltd")
        #expect(person["PrimaryEmailAddr"]?["Address"] == "b@edit.example")
        #expect(person["SyncToken"] == "1")

        // Refusals: an unknown field, a name taken, an unknown record.
        let unknown = try await client.post("/sim/companies/\(grant.realmID)/invoices/\(invoiceID)/edit", json: ["Balance": 0])
        #expect(unknown.status == 400)
        let taken = try await client.post("/sim/companies/\(grant.realmID)/customers/\(customerID)/edit", json: ["DisplayName": "Other Co"])
        #expect(taken.json["Fault"]?["Error"]?.arrayValue?.first?["code"] == "6240")
        let missing = try await client.post("/sim/companies/\(grant.realmID)/customers/999/edit", json: ["DisplayName": "Nobody"])
        #expect(missing.json["Fault"]?["Error"]?.arrayValue?.first?["code"] == "610")

        // The change feed shows the edits, and Update webhooks tell them.
        let since = Timestamp.string(Date().addingTimeInterval(-60))
        let feed = try await client.get("\(f.prefix)/cdc?entities=Invoice,Customer&changedSince=\(since)", token: grant.access).json
        let responses = feed["CDCResponse"]?.arrayValue?.first?["QueryResponse"]?.arrayValue ?? []
        #expect(responses.contains { $0["Invoice"]?.arrayValue?.contains { $0["Id"] == .string(invoiceID) && $0["TotalAmt"] == 80 } == true })
        _ = try await client.post("/sim/webhooks/flush", json: [:])
        let updates = try await eventually("the edits' webhooks") { () -> [JSONValue]? in
            let events = receiver.all.dropFirst(before).flatMap { (try? JSONDecoder().decode(JSONValue.self, from: $0.body))?.arrayValue ?? [] }
            return events.count >= 3 ? events : nil
        }
        #expect(updates.filter { $0["type"] == "qbo.invoice.updated.v1" && $0["intuitentityid"] == .string(invoiceID) }.count == 2)
        #expect(updates.contains { $0["type"] == "qbo.customer.updated.v1" && $0["intuitentityid"] == .string(customerID) })
    }

    @Test func aVoidedInvoiceCannotBeEdited() async throws {
        let f = try await SimFixture.start()
        defer { f.cleanUp() }
        let (client, grant) = (f.client, f.grant)
        let customer = try await client.post("/v3/company/\(grant.realmID)/customer", json: ["DisplayName": "Void Co"], token: grant.access).json["Customer"]!
        let invoice = try await client.post(
            "/v3/company/\(grant.realmID)/invoice",
            json: ["CustomerRef": ["value": customer["Id"]!], "Line": [["Amount": 10, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": ["ItemRef": ["value": "1"]]]]],
            token: grant.access
        ).json["Invoice"]!
        let id = invoice["Id"]!.stringValue!
        _ = try await client.post("/sim/companies/\(grant.realmID)/invoices/\(id)/void", json: [:])
        let refused = try await client.post("/sim/companies/\(grant.realmID)/invoices/\(id)/edit", json: ["DueDate": "2099-01-01"])
        #expect(refused.json["Fault"]?["Error"]?.arrayValue?.first?["code"] == "6000")
    }
}
