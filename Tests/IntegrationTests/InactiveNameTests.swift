import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// An item or customer a QuickBooks user made inactive (Intuit renames it "<name> (deleted)") does
/// not wedge invoice syncs: qbsyncd finds it again and makes it active again (intuit-fidelity.md #5).
@Suite(.timeLimit(.minutes(3))) struct InactiveNameTests {
    /// A QuickBooks user's token for the default company (the sim hands out the daemon's).
    static func userToken(_ pair: Pair) async throws -> String {
        try #require(try await pair.http.get("/sim/tokens/\(pair.sim.defaultRealmID)").json["accessTokens"]?.arrayValue?.first?.stringValue)
    }

    /// Sets `Active:false` on a record, as a QuickBooks user would.
    static func deactivate(_ pair: Pair, _ entity: String, id: String) async throws {
        let realm = pair.sim.defaultRealmID
        let token = try await userToken(pair)
        let current = try await pair.http.get("/v3/company/\(realm)/\(entity.lowercased())/\(id)", token: token).json[entity]
        let answer = try await pair.http.post(
            "/v3/company/\(realm)/\(entity.lowercased())", json: ["Id": .string(id), "SyncToken": current?["SyncToken"] ?? "0", "sparse": true, "Active": false], token: token
        )
        #expect(answer.json[entity]?["Active"] == false)
        #expect(answer.json[entity]?[entity == "Item" ? "Name" : "DisplayName"]?.stringValue?.hasSuffix(" (deleted)") == true)
    }

    static func company(_ pair: Pair) async throws -> JSONValue {
        try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json
    }

    @Test func aDeactivatedServiceItemIsMadeActiveAgain() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput()))
        let item = try #require(try await Self.company(pair)["items"]?.arrayValue?.first { $0["Name"] == "Service Charge" })
        let itemID = try #require(item["Id"]?.stringValue)
        try await Self.deactivate(pair, "Item", id: itemID)

        // A new invoice (Intuit: 2500) and an update of the first (Intuit: 610) both go through.
        let second = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(id: "dem-2", docNumber: "SC-2")))
        #expect(second.qboId != nil)
        try await Self.deactivate(pair, "Item", id: itemID)
        let updated = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(amounts: ["99.00"])))
        #expect(updated.status.rawValue == "Outstanding")
        #expect(updated.totalAmount?.description == "99.00")

        let company = try await Self.company(pair)
        let items = company["items"]?.arrayValue ?? []
        #expect(items.filter { $0["Name"]?.stringValue?.hasPrefix("Service Charge") == true }.count == 1, "the same item, not a new one: \(items)")
        let back = items.first { $0["Id"]?.stringValue == itemID }
        #expect(back?["Name"] == "Service Charge")
        #expect(back?["Active"] == true)
        for invoice in company["invoices"]?.arrayValue ?? [] {
            #expect(invoice["Line"]?.arrayValue?.first?["SalesItemLineDetail"]?["ItemRef"]?["value"]?.stringValue == itemID)
        }
    }

    @Test func aDeactivatedCustomerIsFoundAgainOnTheNextInvoice() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        let customer = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput()))
        let customerID = try #require(customer.qboId)
        try await Self.deactivate(pair, "Customer", id: customerID)

        let updated = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(amounts: ["99.00"])))
        #expect(updated.status.rawValue == "Outstanding", "not Voided: the invoice was never deleted")
        #expect(updated.totalAmount?.description == "99.00")
        let second = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(id: "dem-2", docNumber: "SC-2")))
        #expect(second.qboId != nil)

        let customers = try await Self.company(pair)["customers"]?.arrayValue ?? []
        let back = customers.first { $0["Id"]?.stringValue == customerID }
        #expect(back?["Active"] == true)
        #expect(back?["DisplayName"] == "Maple Court", "the name qbsyncd pushed, not \"(deleted)\"")
        #expect(customers.count == 1)
        let development = try #require(try await pair.control.call(EntityListCall.self, .init(org: .test("acme"), kind: .development)).entities.first)
        #expect(development.drift == nil, "as qbsyncd pushed it: \(development)")
        // The customer's own sync goes on without a stale SyncToken or a conflict.
        var renamed = SyncTests.developmentInput
        renamed.name = "Maple Court (North)"
        #expect(try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: renamed)).status.rawValue == "Synced")
    }

    /// A customer push says `Active: true`: a forced push over the deactivation (seen as drift)
    /// brings the customer back under the pushed name.
    @Test func aCustomerPushMakesItsCustomerActiveAgain() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        let customer = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        let customerID = try #require(customer.qboId)
        try await Self.deactivate(pair, "Customer", id: customerID)
        var renamed = SyncTests.developmentInput
        renamed.name = "Maple Court (North)"
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: renamed, force: true))
        let back = (try await Self.company(pair)["customers"]?.arrayValue ?? []).first { $0["Id"]?.stringValue == customerID }
        #expect(back?["Active"] == true)
        #expect(back?["DisplayName"] == "Maple Court (North)")
    }

    /// A customer some other user deactivated and qbsyncd does not map is not brought back: a
    /// refusal that no reactivation can cure stays Intuit's answer.
    @Test func aRefusalWithNothingInactiveStaysARefusal() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput()))
        let invoiceID = try #require(try await Self.company(pair)["invoices"]?.arrayValue?.first?["Id"]?.stringValue)
        _ = try await pair.http.post("/sim/companies/\(pair.sim.defaultRealmID)/invoices/\(invoiceID)/delete", json: [:])
        await #expect { _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(amounts: ["99.00"]))) } throws: { error in
            guard let rpc = (error as? ControlClientError)?.rpcError else { return false }
            return rpc.reason == "conflict" || (rpc.reason == "qbo_rejected" && rpc.data["qbo"]?["code"] == "610")
        }
    }
}

/// Looked-up names reach Intuit's query language as Intuit reads it (L2): `'` as `\'`, never a
/// backslash escape, and control characters refused before any call.
@Suite(.timeLimit(.minutes(3))) struct QueryEscapingTests {
    @Test func anItemNamedWithBackslashesIsFoundNotDuplicated() async throws {
        let name = #"Fees\Charges O'Brien\"#
        let pair = try await Pair.start(daemonEnvironment: ["QBSYNCD_INVOICE_ITEM": name])
        defer { pair.cleanUp() }
        let realm = pair.sim.defaultRealmID
        _ = try await pair.connect("acme")
        let token = try await InactiveNameTests.userToken(pair)
        // Another item the LIKE lookup also answers: only the exact name is taken.
        _ = try await pair.http.post("/v3/company/\(realm)/item", json: ["Name": #"Fees%Charges O'Brien\"#, "Type": "Service", "IncomeAccountRef": ["value": "1"]], token: token)
        let item = try await pair.http.post("/v3/company/\(realm)/item", json: ["Name": .string(name), "Type": "Service", "IncomeAccountRef": ["value": "1"]], token: token)
        #expect(item.status == 200)
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput()))
        let company = try await InactiveNameTests.company(pair)
        #expect((company["items"]?.arrayValue ?? []).filter { $0["Name"]?.stringValue == name }.count == 1, "found by its name, not created again")
        let line = company["invoices"]?.arrayValue?.first?["Line"]?.arrayValue?.first
        #expect(line?["SalesItemLineDetail"]?["ItemRef"]?["value"] == item.json["Item"]?["Id"])
    }

    @Test func controlCharactersAreRefusedBeforeAnyCall() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        let served = try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json["counters"]?["requestsServed"]
        await #expect { _ = try await pair.control.call("customer.sync", params: ["org": "acme", "development": ["id": "dev-9", "name": "Maple\u{7}Court"]]) } throws: { error in
            let rpc = (error as? ControlClientError)?.rpcError
            return rpc?.reason == "invalid_params" && rpc?.message.contains("development.name") == true
        }
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        let afterCustomer = try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json["counters"]?["requestsServed"]
        await #expect { _ = try await pair.control.call("invoice.sync", params: ["org": "acme", "demand": SyncTests.demand(docNumber: "SC-1\n")]) } throws: { error in
            let rpc = (error as? ControlClientError)?.rpcError
            return rpc?.reason == "invalid_params" && rpc?.message.contains("demand.docNumber") == true
        }
        #expect(try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json["counters"]?["requestsServed"] == afterCustomer, "no call for the refused invoice")
        #expect(served != nil)
    }
}
