import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// Intuit's 401 and 403 answers read for what they say (security review F7; Intuit fidelity #2, #3),
/// through the real daemon and the simulator's injected answers.
@Suite(.timeLimit(.minutes(3))) struct IntuitRefusalTests {
    func developmentInput(_ name: String) -> DevelopmentInput { DevelopmentInput(id: "dev-1", name: name) }

    func status(_ pair: Pair, _ org: String) async throws -> JSONValue { try await pair.control.answer(OrgShowCall.self, OrgParams(org: .test(org))).json }

    @Test func onlyARefusalNoRefreshCuresNeedsAReconnect() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: developmentInput("Maple Court")))

        // A proxy's 403 page is not Intuit disconnecting the app: retried like an outage, and the org stays connected.
        _ = try await pair.http.post("/sim/faults", json: ["status": 403, "code": "waf", "count": 1, "path": "/customer"])
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: developmentInput("Maple Court 2")))
        #expect(try await status(pair, "acme")["status"] == "connected")

        // An expired token (401 3200) is refreshed once and the call retried.
        _ = try await pair.http.post("/sim/faults", json: ["status": 401, "code": "3200", "count": 1, "path": "/customer"])
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: developmentInput("Maple Court 3")))
        #expect(try await status(pair, "acme")["status"] == "connected")
        let refreshedOnce = try #require(try await status(pair, "acme")["lastRefreshAt"]?.stringValue)

        // 401 130 (wrong cluster) is not cured by a refresh: a clear state at once, with Intuit's reason, no refresh.
        _ = try await pair.http.post("/sim/faults", json: ["status": 401, "code": "130", "count": 5, "path": "/customer"])
        await #expect { _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: developmentInput("Maple Court 4"))) } throws: {
            rpcReason($0) == "needs_reauthorization"
        }
        let wrongCluster = try await status(pair, "acme")
        #expect(wrongCluster["status"] == "needs_reauthorization")
        #expect(wrongCluster["lastError"]?.stringValue?.contains("130 Accessing Wrong Cluster") == true, "\(wrongCluster)")
        #expect(wrongCluster["lastRefreshAt"]?.stringValue == refreshedOnce, "no refresh was spent on it")
        _ = try await pair.http.send(.DELETE, "/sim/faults")

        // Connected again: a 401 that the refreshed token meets too ends the same way, not in a retry loop.
        _ = try await pair.connect("acme")
        _ = try await pair.http.post("/sim/faults", json: ["status": 401, "code": "3200", "count": 10, "path": "/customer"])
        await #expect { _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: developmentInput("Maple Court 5"))) } throws: {
            rpcReason($0) == "needs_reauthorization"
        }
        #expect(try await status(pair, "acme")["lastError"]?.stringValue?.contains("refused a freshly refreshed access token") == true)
        let injected = try await pair.http.get("/sim/faults").json
        #expect(injected["faults"]?.arrayValue?.first?["injected"] == 2, "one call and one retry after one refresh: \(injected)")
    }

    @Test func intuitsOld403ThrottleIsThrottlingNotADisconnection() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        _ = try await pair.http.post("/sim/faults", json: ["status": 403, "code": "3001", "count": 1, "path": "/customer"])
        await #expect { _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: developmentInput("Maple Court"))) } throws: {
            rpcReason($0) == "rate_limited"
        }
        #expect(try await status(pair, "acme")["status"] == "connected")
        // 3100 still means the app was disconnected at Intuit (another company: acme's waits out the throttle).
        _ = try await pair.connect("beta", realmID: try await pair.newCompany())
        _ = try await pair.http.post("/sim/faults", json: ["status": 403, "code": "3100", "count": 1, "path": "/companyinfo"])
        await #expect { _ = try await pair.control.call(OrgTestCall.self, OrgParams(org: .test("beta"))) } throws: { rpcReason($0) == "needs_reauthorization" }
        #expect(try await status(pair, "beta")["lastError"]?.stringValue?.contains("3100") == true)
    }
}

/// A 610 on an update is read again before the invoice is called gone (Intuit fidelity #1).
@Suite(.timeLimit(.minutes(2))) struct InactiveReferenceTests {
    @Test func a610ForAnInactiveCustomerIsNotADeletedInvoice() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        let realm = pair.sim.defaultRealmID
        _ = try await pair.connect("acme")
        let customer = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput()))
        // A QuickBooks user makes the customer inactive.
        let token = try #require(try await pair.http.get("/sim/tokens/\(realm)").json["accessTokens"]?.arrayValue?.first?.stringValue)
        let id = try #require(customer.qboId)
        let syncToken = try #require(try await pair.http.get("/v3/company/\(realm)/customer/\(id)", token: token).json["Customer"]?["SyncToken"])
        #expect(try await pair.http.post("/v3/company/\(realm)/customer", json: ["Id": .string(id), "SyncToken": syncToken, "sparse": true, "Active": false], token: token).status == 200)

        // Intuit answers the update 610 "made inactive"; the invoice still stands, and qbsyncd makes
        // the customer active again and pushes once more (fidelity #5, InactiveNameTests).
        let updated = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(amounts: ["99.00"])))
        #expect(updated.totalAmount?.description == "99.00")
        let mapping = try #require(try await pair.control.call(EntityListCall.self, .init(org: .test("acme"), kind: .demand)).entities.first)
        #expect(mapping.status == .outstanding, "not Voided: \(mapping)")
    }
}

/// A definitive refusal forgets the create's requestid, so a corrected retry can succeed (F4).
@Suite(.timeLimit(.minutes(2))) struct DefinitiveRefusalTests {
    @Test func aCorrectedRetryAfterARefusalIsCreated() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        let realm = pair.sim.defaultRealmID
        _ = try await pair.connect("acme")
        // Someone else's customer already has the name.
        let token = try #require(try await pair.http.get("/sim/tokens/\(realm)").json["accessTokens"]?.arrayValue?.first?.stringValue)
        #expect(try await pair.http.post("/v3/company/\(realm)/customer", json: ["DisplayName": "Maple Court"], token: token).status == 200)
        await #expect { _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: DevelopmentInput(id: "dev-1", name: "Maple Court"))) } throws: { error in
            guard let rpc = (error as? ControlClientError)?.rpcError else { return false }
            return rpc.reason == "qbo_rejected" && rpc.data["qbo"]?["code"] == "6240"
        }
        // Intuit replays the first answer to a repeated requestid: the corrected push needs a new one.
        let fixed = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: DevelopmentInput(id: "dev-1", name: "Maple Court (Leeds)")))
        #expect(fixed.qboId != nil)
        let customers = try await pair.http.get("/sim/companies/\(realm)").json["customers"]?.arrayValue ?? []
        #expect(customers.filter { $0["DisplayName"] == "Maple Court (Leeds)" }.count == 1)
    }
}

/// A + in a looked-up name reaches Intuit as a + (L1).
@Suite(.timeLimit(.minutes(2))) struct QueryEncodingTests {
    @Test func anItemNamedWithAPlusIsFoundNotDuplicated() async throws {
        let pair = try await Pair.start(daemonEnvironment: ["QBSYNCD_INVOICE_ITEM": "Fees+Charges"])
        defer { pair.cleanUp() }
        let realm = pair.sim.defaultRealmID
        _ = try await pair.connect("acme")
        let token = try #require(try await pair.http.get("/sim/tokens/\(realm)").json["accessTokens"]?.arrayValue?.first?.stringValue)
        let item = try await pair.http.post("/v3/company/\(realm)/item", json: ["Name": "Fees+Charges", "Type": "Service", "IncomeAccountRef": ["value": "1"]], token: token)
        #expect(item.status == 200)
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput()))
        let company = try await pair.http.get("/sim/companies/\(realm)").json
        #expect((company["items"]?.arrayValue ?? []).filter { $0["Name"] == "Fees+Charges" }.count == 1, "found by its name, not created again")
        let line = company["invoices"]?.arrayValue?.first?["Line"]?.arrayValue?.first
        #expect(line?["SalesItemLineDetail"]?["ItemRef"]?["value"] == item.json["Item"]?["Id"])
    }
}

/// The service item's income account is chosen, not "whatever comes first" (Intuit fidelity #4).
@Suite(.timeLimit(.minutes(2))) struct IncomeAccountTests {
    func itemAccount(_ pair: Pair) async throws -> JSONValue? {
        let items = try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json["items"]?.arrayValue ?? []
        return items.first { $0["Name"] == "Service Charge" }?["IncomeAccountRef"]?["name"]
    }

    @Test func theServiceFeeAccountByDefaultAndTheNamedOneWhenSet() async throws {
        for (setting, expected) in [(nil, "Services"), ("Uncategorized Income", "Uncategorized Income")] as [(String?, String)] {
            let pair = try await Pair.start(daemonEnvironment: setting.map { ["QBSYNCD_INCOME_ACCOUNT": $0] } ?? [:])
            defer { pair.cleanUp() }
            _ = try await pair.connect("acme")
            #expect(try await pair.control.call("org.test", params: ["org": "acme"])["invoiceItem"] == .null, "not looked up yet")
            _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
            _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput()))
            // "Sales of Product Income" comes first in Intuit's (Name) order; it is not the choice.
            #expect(try await itemAccount(pair) == .string(expected))
            let test = try await pair.control.call(OrgTestCall.self, OrgParams(org: .test("acme")))
            #expect(test.invoiceItem?.name == "Service Charge" && test.invoiceItem?.incomeAccount == expected, "\(test)")
        }
    }
}
