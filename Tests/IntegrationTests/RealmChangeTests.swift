import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// F1: QuickBooks ids are per company ("Customer 3" exists in every company), so an org that
/// moves to another company must never touch it with the first company's ids.
@Suite(.timeLimit(.minutes(3))) struct RealmChangeTests {
    /// Creates an entity in a company through Intuit's API, as a QuickBooks user would.
    func create(_ pair: Pair, realm: String, token: String, _ entity: String, _ body: JSONValue) async throws -> String {
        let reply = try await pair.http.post("/v3/company/\(realm)/\(entity.lowercased())?minorversion=75", json: body, token: token)
        return try #require(reply.json[entity]?["Id"]?.stringValue, "creating a \(entity) in \(realm): \(reply.json)")
    }

    @Test func anOrgMovedToAnotherCompanyNeverTouchesItWithTheFirstCompanysIds() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        let listen = try await pair.control.call(DaemonStatusCall.self).webhook.listen
        _ = try await pair.http.post("/sim/webhooks/config", json: ["url": .string("http://\(listen)/api/webhooks/quickbooks"), "format": "cloudevents"])
        let companyA = pair.sim.defaultRealmID

        // Given acme connected to company A, with a customer and an invoice there
        _ = try await pair.connect("acme")
        let customerA = try #require(try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput)).qboId)
        let invoiceA = try #require(try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput())).qboId)

        // And company B, whose records with the same ids belong to someone else
        let companyB = try await pair.newCompany()
        let token = try await pair.http.connect(realmID: companyB).access
        let unrelated = try await create(pair, realm: companyB, token: token, "Customer", ["DisplayName": "Unrelated Ltd"])
        let item = try await create(pair, realm: companyB, token: token, "Item", ["Name": "Consulting", "Type": "Service", "IncomeAccountRef": ["value": "1"]])
        let unrelatedInvoice = try await create(
            pair, realm: companyB, token: token, "Invoice",
            ["CustomerRef": ["value": .string(unrelated)], "Line": [["Amount": 75, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": ["ItemRef": ["value": .string(item)]]]]]
        )
        try #require(unrelated == customerA && unrelatedInvoice == invoiceA, "the companies' ids must collide for this test: \(unrelated)/\(customerA), \(unrelatedInvoice)/\(invoiceA)")
        let before = try await pair.http.get("/sim/companies/\(companyB)").json

        // When acme connects to company B, it is refused: its records belong to A
        let (state, redirect) = try await pair.consent("acme", realmID: companyB)
        let complete: [String: JSONValue] = ["state": .string(state), "code": .string(redirect["code"] ?? ""), "realmId": .string(companyB)]
        var refusal: RPCErrorObject?
        do {
            _ = try await pair.control.call("oauth.complete", params: .object(complete))
        } catch {
            refusal = error.rpcError
        }
        #expect(refusal?.reason == "realm_changed")
        #expect(refusal?.code == 1014)
        #expect(refusal?.data["previousRealmId"] == .string(companyA))
        #expect(refusal?.data["realmId"] == .string(companyB))
        #expect(try await pair.control.call(OrgShowCall.self, OrgParams(org: .test("acme"))).realmID == companyA)

        // Then the same consent with fresh:true moves it, archiving A's records
        var fresh = complete
        fresh["fresh"] = true
        let moved = try await pair.control.call("oauth.complete", params: .object(fresh))
        #expect(moved["realmId"]?.stringValue == companyB)
        #expect(moved["status"] == "connected")

        // And none of A's ids is used in B: the development must be pushed again first
        for demand in [SyncTests.demand(id: "dem-2", docNumber: "SC-2"), SyncTests.demand(amounts: ["999.00"])] {
            await #expect(throws: ControlClientError.self) { _ = try await pair.control.call("invoice.sync", params: ["org": "acme", "demand": demand]) }
            do { _ = try await pair.control.call("invoice.sync", params: ["org": "acme", "demand": demand]) } catch { #expect(rpcReason(error) == "customer_not_synced") }
        }
        let customerB = try #require(try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput)).qboId)
        let invoiceB = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput()))
        #expect(customerB != unrelated)
        #expect(invoiceB.qboId != unrelatedInvoice)
        #expect(invoiceB.realmId == companyB)

        // And a payment of B's unrelated invoice (A's invoice id) changes nothing of acme's
        _ = try await pair.http.post("/sim/companies/\(companyB)/invoices/\(unrelatedInvoice)/pay", json: [:])
        _ = try await pair.http.post("/sim/webhooks/flush", json: [:])
        _ = try await eventually(timeout: .seconds(20), "the payment's events settled") { () -> Bool? in
            let events = try await pair.control.call(EventListCall.self, .init(org: .test("acme"), limit: 200)).events
            return events.contains(where: { $0["type"] == "payment.created" }) && !events.contains(where: { $0["status"] == "pending" }) ? true : nil
        }
        let demands = try await pair.control.call(EntityListCall.self, .init(org: .test("acme"), kind: .demand)).entities
        #expect(demands.map(\.status) == [.outstanding])
        #expect(demands.allSatisfy { $0.realmId == companyB })

        // And B's unrelated records are as their owner left them
        let after = try await pair.http.get("/sim/companies/\(companyB)").json
        func record(_ company: JSONValue, _ list: String, _ id: String) -> JSONValue? { company[list]?.arrayValue?.first { $0["Id"]?.stringValue == id } }
        #expect(record(after, "customers", unrelated) == record(before, "customers", unrelated))
        #expect(record(after, "invoices", unrelatedInvoice)?["CustomerRef"] == record(before, "invoices", unrelatedInvoice)?["CustomerRef"])
        #expect(record(after, "invoices", unrelatedInvoice)?["TotalAmt"] == record(before, "invoices", unrelatedInvoice)?["TotalAmt"])
    }

    @Test func reconnectingToTheSameCompanyKeepsTheRecordsAndRevokesTheOldGrant() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        let first = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        let live = "/sim/tokens/\(pair.sim.defaultRealmID)"
        #expect(try await pair.http.get(live).json["refreshTokens"]?.arrayValue?.count == 1)

        // When acme connects to the same company again
        _ = try await pair.connect("acme")

        // Then its records are still found (no duplicate), and the replaced grant was revoked at Intuit
        let again = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        #expect(again.qboId == first.qboId)
        let customers = try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json["customers"]?.arrayValue ?? []
        #expect(customers.filter { $0["DisplayName"] == "Maple Court" }.count == 1)
        // One live grant at Intuit: the new one (an orphaned grant would stay in the company's connected apps).
        #expect(try await pair.http.get(live).json["refreshTokens"]?.arrayValue?.count == 1)
    }
}
