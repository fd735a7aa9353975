import Foundation
import QBSyncCore
import QBTestSupport
import Testing

/// The Accounting API v3 as qbo-sim serves it (reference §2): shapes, field names, statuses, faults.
@Suite(.timeLimit(.minutes(2))) struct AccountingContractTests {
    typealias Fixture = SimFixture

    @Test func authenticationFailuresUseTheGatewaysShapes() async throws {
        let f = try await Fixture.start()
        defer { f.cleanUp() }
        let missing = try await f.client.get(f.prefix + "/companyinfo/\(f.realm)")
        #expect(missing.status == 401)
        #expect(missing.json["fault"]?["type"] == "AUTHENTICATION")
        #expect(missing.json["fault"]?["error"]?.arrayValue?.first?["code"] == "3200")
        #expect(missing.json["time"]?.intValue != nil, "epoch milliseconds")
        #expect(try await f.client.get(f.prefix + "/companyinfo/\(f.realm)", token: "short").json["fault"]?["error"]?.arrayValue?.first?["detail"] == "Malformed bearer token: too short or too long")

        let other = try await f.client.post("/sim/companies", json: ["name": "Other Co"]).json["realmId"]!.stringValue!
        let forbidden = try await f.client.get("/v3/company/\(other)/companyinfo/\(other)", token: f.token)
        #expect(forbidden.status == 403)
        #expect(forbidden.json["fault"]?["type"] == "SERVICE")
        #expect(forbidden.json["fault"]?["error"]?.arrayValue?.first?["code"] == "3100")

        let info = try await f.get("/companyinfo/\(f.realm)?minorversion=65&format=json&")
        #expect(info.status == 200)
        #expect(info.json["CompanyInfo"]?["CompanyName"] == "Sandbox Company_US_1")
        #expect(info.json["time"]?.stringValue?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}-0[78]:00/) != nil)
    }

    @Test func customersHaveUniqueNamesSyncTokensAndSparseUpdates() async throws {
        let f = try await Fixture.start()
        defer { f.cleanUp() }
        let created = try await f.post("/customer", ["DisplayName": "Maple Court", "PrimaryEmailAddr": ["Address": "a@example.com"], "Balance": 99, "Notes": ""])
        #expect(created.status == 200)
        let customer = try #require(created.json["Customer"])
        #expect(customer["SyncToken"] == "0")
        #expect(customer["Balance"] == 0, "read-only fields are ignored")
        #expect(customer["Notes"] == nil, "\"\" is absent")
        #expect(customer["FullyQualifiedName"] == "Maple Court")
        #expect(customer["domain"] == "QBO")
        #expect(customer["MetaData"]?["CreateTime"] != nil)

        let duplicate = try await f.post("/customer", ["DisplayName": "maple court"])
        #expect(duplicate.status == 400)
        #expect(duplicate.json["Fault"]?["type"] == "ValidationFault")
        #expect(duplicate.json["Fault"]?["Error"]?.arrayValue?.first?["code"] == "6240")
        #expect(duplicate.json["Fault"]?["Error"]?.arrayValue?.first?["Message"] == "Duplicate Name Exists Error")

        let id = customer["Id"]!
        let sparse = try await f.post("/customer", ["Id": id, "SyncToken": "0", "sparse": true, "CompanyName": "Maple Court RTM"])
        #expect(sparse.json["Customer"]?["SyncToken"] == "1")
        #expect(sparse.json["Customer"]?["PrimaryEmailAddr"]?["Address"] == "a@example.com", "sparse keeps what it does not send")
        let stale = try await f.post("/customer", ["Id": id, "SyncToken": "0", "sparse": true, "CompanyName": "x"])
        #expect(stale.status == 400)
        #expect(stale.json["Fault"]?["Error"]?.arrayValue?.first?["code"] == "5010")
        let full = try await f.post("/customer", ["Id": id, "SyncToken": 1, "DisplayName": "Maple Court"])
        #expect(full.json["Customer"]?["SyncToken"] == "2", "an integer SyncToken is accepted")
        #expect(full.json["Customer"]?["PrimaryEmailAddr"] == nil, "a full update clears what it omits")
        #expect(try await f.get("/customer/\(id.stringValue!)").json["Customer"]?["SyncToken"] == "2")
        #expect(try await f.get("/customer/999").json["Fault"]?["Error"]?.arrayValue?.first?["code"] == "610")
    }

    @Test func invoicesAreComputedByTheServiceAndValidated() async throws {
        let f = try await Fixture.start()
        defer { f.cleanUp() }
        let (customer, invoice) = try await f.customerAndInvoice(amount: 1250.5)
        #expect(invoice["TotalAmt"] == .double(1250.5))
        #expect(invoice["Balance"] == .double(1250.5))
        #expect(invoice["DocNumber"] == "1001")
        #expect(invoice["DueDate"] == "2026-12-31")
        #expect(invoice["TxnDate"]?.stringValue?.count == 10)
        #expect(invoice["CustomerRef"] == ["value": customer["Id"]!, "name": "Block A"])
        let lines = try #require(invoice["Line"]?.arrayValue)
        #expect(lines.count == 2)
        #expect(lines[0]["Id"] == "1")
        #expect(lines[0]["LineNum"] == 1)
        #expect(lines[0]["SalesItemLineDetail"]?["ItemRef"] == ["value": "1", "name": "Services"])
        #expect(lines[1]["DetailType"] == "SubTotalLineDetail")

        let noCustomer = try await f.post("/invoice", ["Line": [["Amount": 1, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": ["ItemRef": ["value": "1"]]]]])
        #expect(noCustomer.json["Fault"]?["Error"]?.arrayValue?.first?["code"] == "6560")
        let noLines = try await f.post("/invoice", ["CustomerRef": ["value": customer["Id"]!]])
        #expect(noLines.json["Fault"]?["Error"]?.arrayValue?.first?["code"] == "2020")
        let badItem = try await f.post("/invoice", ["CustomerRef": ["value": customer["Id"]!], "Line": [["Amount": 1, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": ["ItemRef": ["value": "77"]]]]])
        #expect(badItem.json["Fault"]?["Error"]?.arrayValue?.first?["code"] == "2500")

        let id = invoice["Id"]!
        let sparse = try await f.post("/invoice", [
            "Id": id, "SyncToken": "0", "sparse": true,
            "Line": [["Amount": 100, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": ["ItemRef": ["value": "2"]]], ["Amount": 50.25, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": ["ItemRef": ["value": "1"]]]],
        ])
        #expect(sparse.json["Invoice"]?["TotalAmt"] == .double(150.25), "a sent Line array replaces all lines")
        #expect(sparse.json["Invoice"]?["SyncToken"] == "1")
        #expect(sparse.json["Invoice"]?["DueDate"] == "2026-12-31")
        #expect(try await f.post("/invoice", ["Id": id, "SyncToken": "0", "sparse": true, "PrivateNote": "x"]).json["Fault"]?["Error"]?.arrayValue?.first?["code"] == "5010")
    }

    @Test func voidDeleteAndPaymentsBehaveAsIntuits() async throws {
        let f = try await Fixture.start()
        defer { f.cleanUp() }
        let (_, toVoid) = try await f.customerAndInvoice(name: "Void Co")
        let voided = try await f.post("/invoice?operation=void", ["Id": toVoid["Id"]!, "SyncToken": "0"])
        #expect(voided.json["Invoice"]?["TotalAmt"] == 0)
        #expect(voided.json["Invoice"]?["Balance"] == 0)
        #expect(voided.json["Invoice"]?["PrivateNote"] == "Voided")
        #expect(voided.json["Invoice"]?["DocNumber"] == toVoid["DocNumber"]!)
        #expect(voided.json["Invoice"]?["Line"]?.arrayValue?.first?["Amount"] == 0)
        #expect(voided.json["Invoice"]?["SyncToken"] == "1")
        #expect(try await f.post("/invoice", ["Id": toVoid["Id"]!, "SyncToken": "1", "sparse": true, "PrivateNote": "x"]).json["Fault"]?["Error"]?.arrayValue?.first?["code"] == "6000")

        let (_, toDelete) = try await f.customerAndInvoice(name: "Delete Co")
        let deleted = try await f.post("/invoice?operation=delete", ["Id": toDelete["Id"]!, "SyncToken": "0"])
        #expect(deleted.json["Invoice"] == ["Id": toDelete["Id"]!, "status": "Deleted", "domain": "QBO"])
        #expect(try await f.get("/invoice/\(toDelete["Id"]!.stringValue!)").json["Fault"]?["Error"]?.arrayValue?.first?["code"] == "610")

        let (customer, toPay) = try await f.customerAndInvoice(name: "Pay Co", amount: 300)
        let partial = try await f.post("/payment", [
            "CustomerRef": ["value": customer["Id"]!], "TotalAmt": 100,
            "Line": [["Amount": 100, "LinkedTxn": [["TxnId": toPay["Id"]!, "TxnType": "Invoice"]]]],
        ])
        #expect(partial.status == 200)
        let paymentID = try #require(partial.json["Payment"]?["Id"])
        var invoice = try await f.get("/invoice/\(toPay["Id"]!.stringValue!)").json["Invoice"]!
        #expect(invoice["Balance"] == 200)
        #expect(invoice["SyncToken"] == "1", "a payment bumps the invoice's SyncToken")
        #expect(invoice["LinkedTxn"] == [["TxnId": paymentID, "TxnType": "Payment"]])
        let paid = try await f.client.post("/sim/companies/\(f.realm)/invoices/\(toPay["Id"]!.stringValue!)/pay", json: [:])
        #expect(paid.json["Payment"]?["TotalAmt"] == 200)
        invoice = try await f.get("/invoice/\(toPay["Id"]!.stringValue!)").json["Invoice"]!
        #expect(invoice["Balance"] == 0)
        #expect(invoice["TotalAmt"] == 300)
        #expect(try await f.post("/invoice?operation=void", ["Id": invoice["Id"]!, "SyncToken": invoice["SyncToken"]!]).json["Fault"] != nil, "paid invoices are not voided here")
    }

    @Test func queriesFollowIntuitsLanguageAndShapes() async throws {
        let f = try await Fixture.start()
        defer { f.cleanUp() }
        for name in ["Alder House", "Birch House", "Cedar Court"] { _ = try await f.customerAndInvoice(name: name) }
        let empty = try await f.query("select * from Customer where DisplayName = 'Nobody'")
        #expect(empty["QueryResponse"] == [:])
        #expect(try await f.query("SELECT COUNT(*) FROM Customer")["QueryResponse"] == ["totalCount": 3])
        let like = try await f.query("select * from customer where DisplayName like '%House' orderby DisplayName desc startposition 1 maxresults 1")
        #expect(like["QueryResponse"]?["Customer"]?.arrayValue?.map { $0["DisplayName"] } == ["Birch House"])
        #expect(like["QueryResponse"]?["startPosition"] == 1)
        #expect(like["QueryResponse"]?["maxResults"] == 1)
        let inList = try await f.query("SELECT * FROM Invoice WHERE DocNumber IN ('1001', '1003') ORDERBY DocNumber")
        #expect(inList["QueryResponse"]?["Invoice"]?.arrayValue?.map { $0["DocNumber"] } == ["1001", "1003"])
        let byRef = try await f.query("SELECT * FROM Invoice WHERE CustomerRef = '1' AND Balance > '0'")
        #expect(byRef["QueryResponse"] == [:], "customer 1 does not exist; refs compare by id")
        let escaped = try await f.query(#"SELECT * FROM Customer WHERE DisplayName = 'O\'Brien'"#)
        #expect(escaped["QueryResponse"] == [:])
        let posted = try await f.client.send(.POST, f.prefix + "/query", headers: [("Authorization", "Bearer \(f.token)"), ("Content-Type", "application/text")], body: Data("select count(*) from Item".utf8))
        #expect(posted.json["QueryResponse"] == ["totalCount": 2], "a new company has the Services and Hours items")
        let bad = try await f.query("SELECT DisplayName FROM Customer")
        #expect(bad["Fault"]?["Error"]?.arrayValue?.first?["code"] == "4000")
    }

    @Test func requestIDReplaysTheFirstAnswerAndCreatesOnce() async throws {
        let f = try await Fixture.start()
        defer { f.cleanUp() }
        let first = try await f.post("/customer?requestid=abc-123", ["DisplayName": "Once Only"])
        let second = try await f.post("/customer?requestid=abc-123", ["DisplayName": "Once Only"])
        #expect(first.status == 200)
        #expect(second.status == 200, "not a 6240: the same answer again")
        #expect(second.json["Customer"]?["Id"] == first.json["Customer"]?["Id"])
        let failed = try await f.post("/customer?requestid=dup", ["DisplayName": "Once Only"])
        let failedAgain = try await f.post("/customer?requestid=dup", ["DisplayName": "Something Else"])
        #expect(failedAgain.body == failed.body, "errors replay too, whatever the body")
        #expect(try await f.query("SELECT COUNT(*) FROM Customer")["QueryResponse"] == ["totalCount": 1])
        #expect(try await f.client.get("/sim/companies/\(f.realm)").json["counters"]?["createsDeduplicated"] == 2)
    }

    @Test func cdcAndBatch() async throws {
        let f = try await Fixture.start()
        defer { f.cleanUp() }
        let since = Timestamp.string(Date().addingTimeInterval(-60))
        let (_, invoice) = try await f.customerAndInvoice()
        _ = try await f.post("/invoice?operation=delete", ["Id": invoice["Id"]!, "SyncToken": "0"])
        let cdc = try await f.get("/cdc?entities=Invoice,Customer&changedSince=\(since)").json
        let responses = try #require(cdc["CDCResponse"]?.arrayValue?.first?["QueryResponse"]?.arrayValue)
        #expect(responses.count == 2)
        #expect(responses[0]["Invoice"]?.arrayValue?.first?["status"] == "Deleted")
        #expect(responses[1]["Customer"]?.arrayValue?.count == 1)
        #expect(try await f.get("/cdc?entities=Invoice&changedSince=2020-01-01T00:00:00Z").json["Fault"] != nil, "30-day look-back")

        let batch = try await f.post("/batch", ["BatchItemRequest": [
            ["bId": "1", "operation": "create", "Customer": ["DisplayName": "Batch One"]],
            ["bId": "2", "operation": "create", "Customer": ["DisplayName": "Batch One"]],
            ["bId": "3", "Query": "select count(*) from Customer"],
        ]]).json["BatchItemResponse"]?.arrayValue ?? []
        #expect(batch.count == 3)
        #expect(batch[0]["Customer"]?["DisplayName"] == "Batch One")
        #expect(batch[1]["Fault"]?["Error"]?.arrayValue?.first?["code"] == "6240")
        #expect(batch[2]["QueryResponse"] == ["totalCount": 2])
        let tooMany = try await f.post("/batch", ["BatchItemRequest": .array((0..<31).map { ["bId": .string("\($0)"), "Query": "select * from Item"] })])
        #expect(tooMany.status == 400)
    }
}

extension SimFixture {
    func query(_ sql: String) async throws -> JSONValue {
        var components = URLComponents()
        components.queryItems = [URLQueryItem(name: "query", value: sql), URLQueryItem(name: "minorversion", value: "75")]
        return try await get("/query?" + components.percentEncodedQuery!).json
    }

    /// A customer and a one-line invoice for it.
    func customerAndInvoice(name: String = "Block A", amount: JSONValue = 1250) async throws -> (customer: JSONValue, invoice: JSONValue) {
        let customer = try await post("/customer", ["DisplayName": .string(name)]).json["Customer"]!
        let invoice = try await post(
            "/invoice",
            [
                "CustomerRef": ["value": customer["Id"]!], "DueDate": "2026-12-31",
                "Line": [["Amount": amount, "DetailType": "SalesItemLineDetail", "Description": "Service charge", "SalesItemLineDetail": ["ItemRef": ["value": "1"]]]],
            ]
        ).json["Invoice"]!
        return (customer, invoice)
    }
}
