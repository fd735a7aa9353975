import Foundation
import QBSyncCore
import QBTestSupport
import Testing

/// Voiding and deleting payments, through the API and as a QuickBooks user: the invoices get their
/// balances back, CDC shows it, webhooks tell it.
@Suite(.timeLimit(.minutes(2))) struct PaymentVoidAndDeleteTests {
    @Test func voidAndDeleteGiveTheInvoicesTheirBalancesBack() async throws {
        let f = try await SimFixture.start(webhooks: .init())
        defer { f.cleanUp() }
        let (receiver, client, grant) = (f.receiver!, f.client, f.grant)
        func post(_ path: String, _ json: JSONValue) async throws -> JSONValue { try await f.post(path, json).json }
        func get(_ path: String) async throws -> JSONValue { try await f.get(path).json }
        let since = Timestamp.string(Date().addingTimeInterval(-60))

        let customer = try await post("/customer", ["DisplayName": "Payer Co"])["Customer"]!
        var invoiceIDs: [JSONValue] = []
        for amount in [100, 50] as [JSONValue] {
            let invoice = try await post("/invoice", [
                "CustomerRef": ["value": customer["Id"]!], "Line": [["Amount": amount, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": ["ItemRef": ["value": "1"]]]],
            ])["Invoice"]!
            invoiceIDs.append(invoice["Id"]!)
        }
        let payment = try await post("/payment", [
            "CustomerRef": ["value": customer["Id"]!], "TotalAmt": 130,
            "Line": [
                ["Amount": 100, "LinkedTxn": [["TxnId": invoiceIDs[0], "TxnType": "Invoice"]]],
                ["Amount": 30, "LinkedTxn": [["TxnId": invoiceIDs[1], "TxnType": "Invoice"]]],
            ],
        ])["Payment"]!
        let paymentID = payment["Id"]!
        #expect(try await get("/invoice/\(invoiceIDs[1].stringValue!)")["Invoice"]?["Balance"] == 20)
        _ = try await client.post("/sim/webhooks/flush", json: [:])

        // Void through the API (Intuit's request: Id and SyncToken).
        #expect(try await post("/payment?operation=void", ["Id": paymentID, "SyncToken": "5"])["Fault"]?["Error"]?.arrayValue?.first?["code"] == "5010")
        let voided = try await post("/payment?operation=void", ["Id": paymentID, "SyncToken": "0"])["Payment"]
        #expect(voided?["Id"] == paymentID)
        #expect(voided?["TotalAmt"] == 0)
        #expect(voided?["UnappliedAmt"] == 0)
        #expect(voided?["PrivateNote"] == "Voided")
        #expect(voided?["Line"] == [], "the lines no longer link the invoices")
        #expect(voided?["SyncToken"] == "1")
        #expect(try await get("/payment/\(paymentID.stringValue!)")["Payment"]?["TotalAmt"] == 0, "a voided payment stays readable")
        for (id, total) in zip(invoiceIDs, [100, 50] as [JSONValue]) {
            let invoice = try await get("/invoice/\(id.stringValue!)")["Invoice"]!
            #expect(invoice["Balance"] == total, "the applied amount is back on the balance")
            #expect(invoice["LinkedTxn"] == [], "the invoice no longer links the payment")
            #expect(invoice["SyncToken"] == "2", "created 0, paid 1, released 2")
        }
        #expect(try await post("/payment?operation=void", ["Id": paymentID, "SyncToken": "1"])["Fault"]?["Error"]?.arrayValue?.first?["code"] == "6000", "voided once only")

        // Delete as a QuickBooks user: pay the first invoice in full, then delete that payment in the UI.
        let second = try await client.post("/sim/companies/\(grant.realmID)/invoices/\(invoiceIDs[0].stringValue!)/pay", json: [:]).json["Payment"]!
        #expect(try await get("/invoice/\(invoiceIDs[0].stringValue!)")["Invoice"]?["Balance"] == 0)
        let deleted = try await client.post("/sim/companies/\(grant.realmID)/payments/\(second["Id"]!.stringValue!)/delete", json: [:]).json
        #expect(deleted["Payment"] == ["Id": second["Id"]!, "status": "Deleted", "domain": "QBO"])
        #expect(try await get("/payment/\(second["Id"]!.stringValue!)")["Fault"]?["Error"]?.arrayValue?.first?["code"] == "610")
        #expect(try await get("/invoice/\(invoiceIDs[0].stringValue!)")["Invoice"]?["Balance"] == 100)
        let payments = try await get("/query?query=select%20*%20from%20Payment")["QueryResponse"]?["Payment"]?.arrayValue ?? []
        #expect(payments.map { $0["Id"] } == [paymentID], "queries skip the deleted payment")

        // The other spellings: void as a user, delete through the API, void as an update with include=void.
        let third = try await client.post("/sim/companies/\(grant.realmID)/invoices/\(invoiceIDs[1].stringValue!)/pay", json: ["amount": 10]).json["Payment"]!
        let voidedInUI = try await client.post("/sim/companies/\(grant.realmID)/payments/\(third["Id"]!.stringValue!)/void", json: [:]).json
        #expect(voidedInUI["Payment"]?["TotalAmt"] == 0)
        let fourth = try await client.post("/sim/companies/\(grant.realmID)/invoices/\(invoiceIDs[1].stringValue!)/pay", json: ["amount": 15]).json["Payment"]!
        #expect(try await get("/invoice/\(invoiceIDs[1].stringValue!)")["Invoice"]?["Balance"] == 35)
        let updateVoid = try await post("/payment?operation=update&include=void", ["Id": fourth["Id"]!, "SyncToken": "0", "sparse": true])
        #expect(updateVoid["Payment"]?["PrivateNote"] == "Voided")
        let deletedByAPI = try await post("/payment?operation=delete", ["Id": third["Id"]!, "SyncToken": "1"])
        #expect(deletedByAPI["Payment"]?["status"] == "Deleted")
        #expect(try await get("/invoice/\(invoiceIDs[1].stringValue!)")["Invoice"]?["Balance"] == 50)
        // With its payments gone, the invoice can be voided again.
        let invoice = try await get("/invoice/\(invoiceIDs[1].stringValue!)")["Invoice"]!
        #expect(try await post("/invoice?operation=void", ["Id": invoice["Id"]!, "SyncToken": invoice["SyncToken"]!])["Invoice"]?["TotalAmt"] == 0)

        // CDC lists the voided payment in full and the deleted ones as stubs.
        let cdc = try await get("/cdc?entities=Invoice,Payment&changedSince=\(since)")
        let responses = try #require(cdc["CDCResponse"]?.arrayValue?.first?["QueryResponse"]?.arrayValue)
        #expect(responses.count == 2)
        #expect(responses[0]["Invoice"]?.arrayValue?.count == 2)
        let cdcPayments = try #require(responses[1]["Payment"]?.arrayValue)
        #expect(cdcPayments.first { $0["Id"] == paymentID }?["TotalAmt"] == 0)
        let stubs = cdcPayments.filter { $0["status"] == "Deleted" }
        #expect(Set(stubs.compactMap { $0["Id"] }) == [second["Id"]!, third["Id"]!])
        #expect(stubs.allSatisfy { $0["TotalAmt"] == nil && $0["MetaData"]?["LastUpdatedTime"] != nil })

        // Webhooks: Payment Void or Delete, and an Invoice Update for each invoice it paid.
        _ = try await client.post("/sim/webhooks/flush", json: [:])
        let types = try await eventually("the void and delete events") { () -> [(String, String)]? in
            let events = receiver.all.flatMap { ((try? JSONDecoder().decode(JSONValue.self, from: $0.body))?.arrayValue) ?? [] }
            let types = events.compactMap { event in event["type"]?.stringValue.flatMap { type in event["intuitentityid"]?.stringValue.map { (type, $0) } } }
            return types.contains { $0 == ("qbo.payment.deleted.v1", third["Id"]!.stringValue!) } ? types : nil
        }
        #expect(types.contains { $0 == ("qbo.payment.voided.v1", paymentID.stringValue!) })
        #expect(types.contains { $0 == ("qbo.payment.deleted.v1", second["Id"]!.stringValue!) })
        #expect(types.contains { $0 == ("qbo.payment.voided.v1", fourth["Id"]!.stringValue!) })
        let afterVoid = types.drop { $0 != ("qbo.payment.voided.v1", paymentID.stringValue!) }.dropFirst().prefix(2)
        #expect(afterVoid.map(\.0) == ["qbo.invoice.updated.v1", "qbo.invoice.updated.v1"])
        #expect(Set(afterVoid.map(\.1)) == Set(invoiceIDs.compactMap(\.stringValue)))
    }
}
