import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// Sync end to end: the real qbsyncd pushing to the real qbo-sim.
@Suite(.timeLimit(.minutes(3))) struct SyncTests {
    static let development: JSONValue = [
        "id": "dev-1", "name": "Maple Court", "email": "office@maplecourt.example",
        "address": ["line1": "1 Maple Court", "city": "Leeds", "postalCode": "LS1 1AA", "country": "GB"],
    ]

    static func demand(id: String = "dem-1", amounts: [JSONValue] = ["1250.10"], docNumber: String? = "SC-2026-001", dueDate: String = "2099-12-31") -> JSONValue {
        var demand: [String: JSONValue] = [
            "id": .string(id), "developmentId": "dev-1", "dueDate": .string(dueDate),
            "lines": .array(amounts.enumerated().map { ["description": .string("Service charge \($0.offset + 1)"), "amount": $0.element] }),
        ]
        if let docNumber { demand["docNumber"] = .string(docNumber) }
        return .object(demand)
    }

    /// ``development`` as `customer.sync` params.
    static let developmentInput = DevelopmentInput(
        id: "dev-1", name: "Maple Court", email: "office@maplecourt.example",
        address: .init(line1: "1 Maple Court", city: "Leeds", postalCode: "LS1 1AA", country: "GB")
    )

    /// ``demand(id:amounts:docNumber:dueDate:)`` as `invoice.sync` params, for well-formed amounts.
    static func demandInput(id: String = "dem-1", amounts: [String] = ["1250.10"], docNumber: String? = "SC-2026-001", dueDate: String = "2099-12-31") -> DemandInput {
        DemandInput(
            id: id, developmentId: "dev-1", docNumber: docNumber, dueDate: dueDate,
            lines: amounts.enumerated().map { .init(description: "Service charge \($0.offset + 1)", amount: .test($0.element)) }
        )
    }

    func served(_ pair: Pair) async throws -> Int64 {
        try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json["counters"]?["requestsServed"]?.intValue ?? -1
    }

    @Test func concurrentFirstInvoicesShareOneServiceItem() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: Self.developmentInput))
        // Four first invoices at once on a new company: each needs the service item that does not exist yet.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<4 {
                group.addTask {
                    let client = try await pair.daemon.connect()
                    let mapping = try await client.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: Self.demandInput(id: "dem-\(n)", docNumber: "SC-\(n)")))
                    #expect(mapping.qboId != nil)
                }
            }
            try await group.waitForAll()
        }
        let items = try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json["items"]?.arrayValue ?? []
        #expect(items.filter { $0["Name"] == "Service Charge" }.count == 1)
    }

    @Test func customersAreCreatedOnceAndUpdatedInPlace() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        let first = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: Self.developmentInput))
        #expect(first.kind == .development)
        #expect(first.qboType == "Customer")
        #expect(first.status.rawValue == "Synced")
        #expect(first.syncToken == "0")
        let qboID = try #require(first.qboId)

        // Unchanged content: no API call at all.
        let before = try await served(pair)
        #expect(try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: Self.developmentInput)) == first)
        #expect(try await served(pair) == before)

        var renamed = Self.developmentInput
        renamed.name = "Maple Court RTM"
        let second = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: renamed))
        #expect(second.qboId == qboID, "the same customer, updated")
        #expect(second.syncToken == "1")
        let company = try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json
        let customers = company["customers"]?.arrayValue ?? []
        #expect(customers.count == 1)
        #expect(customers.first?["DisplayName"] == "Maple Court RTM")
        #expect(customers.first?["PrimaryEmailAddr"]?["Address"] == "office@maplecourt.example", "a sparse update keeps the rest")

        // Someone else's customer with the same name is never taken over.
        _ = try await pair.http.post("/v3/company/\(pair.sim.defaultRealmID)/customer", json: ["DisplayName": "Birch House"], token: try await simToken(pair))
        await #expect {
            _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: DevelopmentInput(id: "dev-2", name: "Birch House")))
        } throws: { error in
            (error as? ControlClientError)?.rpcError?.data["qbo"]?["code"] == "6240"
        }
    }

    @Test func aCreateWhoseAnswerWasLostIsNotDuplicated() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        // QuickBooks creates the customer, then the connection drops before the answer arrives.
        _ = try await pair.http.post("/sim/faults", json: ["fault": "drop_after", "path": "/customer", "count": 1])
        let mapping = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: Self.developmentInput))
        #expect(mapping.qboId != nil)
        let company = try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json
        #expect(company["customers"]?.arrayValue?.count == 1, "one customer, not two")
        #expect(company["counters"]?["createsDeduplicated"] == 1, "the retry reused the requestid")

        // A create lost beyond Intuit's requestid memory: the daemon's own customer (its marker) is adopted.
        _ = try await pair.http.post("/v3/company/\(pair.sim.defaultRealmID)/customer", json: ["DisplayName": "Lost House", "Notes": "BlockManOS development dev-9"], token: try await simToken(pair))
        let adopted = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: DevelopmentInput(id: "dev-9", name: "Lost House")))
        #expect(try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json["customers"]?.arrayValue?.count == 2)
        #expect(adopted.status.rawValue == "Synced")

        // An invoice (no unique name to fall back on): every answer of the first call is lost, so
        // the call fails; the app calls again, and the stored requestid makes QuickBooks replay.
        _ = try await pair.http.post("/sim/faults", json: ["fault": "drop_after", "path": "/invoice", "count": 3])
        await #expect {
            _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: Self.demandInput(docNumber: nil)))
        } throws: { rpcReason($0) == "qbo_unavailable" }
        let invoice = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: Self.demandInput(docNumber: nil)))
        let after = try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json
        #expect(after["invoices"]?.arrayValue?.count == 1, "one invoice after four sends")
        #expect(after["invoices"]?.arrayValue?.first?["Id"]?.stringValue == invoice.qboId)
        #expect(after["counters"]?["createsDeduplicated"] == 4)
    }

    @Test func invoicesFollowTheirDemandThroughPaymentAndVoid() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        await #expect {
            _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: Self.demandInput()))
        } throws: { rpcReason($0) == "customer_not_synced" }
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: Self.developmentInput))

        let created = try await pair.control.call("invoice.sync", params: ["org": "acme", "demand": Self.demand(amounts: ["1250.10", 99.9])])
        #expect(created["qboType"] == "Invoice")
        #expect(created["status"] == "Outstanding")
        #expect(created["totalAmount"] == "1350.00")
        #expect(created["balance"] == "1350.00")
        #expect(created["docNumber"] == "SC-2026-001")
        #expect(created["dueDate"] == "2099-12-31")
        let qboID = try #require(created["qboId"]?.stringValue)
        let invoice = try #require(try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json["invoices"]?.arrayValue?.first)
        #expect(invoice["Line"]?.arrayValue?.first?["SalesItemLineDetail"]?["ItemRef"]?["name"] == "Service Charge", "the configured item, created once")

        let updated = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: Self.demandInput(amounts: ["1000.00"])))
        #expect(updated.qboId == qboID)
        #expect(updated.totalAmount?.description == "1000.00")

        let subscriber = try await pair.daemon.connect()
        _ = try await subscriber.call(SubscribeCall.self, .init(topics: ["invoice.status_changed"]))
        var notifications = subscriber.notifications.makeAsyncIterator()
        _ = try await pair.http.post("/sim/companies/\(pair.sim.defaultRealmID)/invoices/\(qboID)/pay", json: [:])
        let paid = try await pair.control.call(InvoiceRefreshCall.self, DemandParams(org: .test("acme"), demandId: "dem-1"))
        #expect(paid.status.rawValue == "Paid")
        #expect(paid.balance?.description == "0.00")
        let change = try #require(await notifications.next())
        #expect(change.params["demandId"] == "dem-1")
        #expect(change.params["from"] == "Outstanding")
        #expect(change.params["to"] == "Paid")
        #expect(change.params["balance"] == "0.00")

        // A second demand, voided in QuickBooks: pushing it again is a conflict.
        let other = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: Self.demandInput(id: "dem-2", docNumber: nil)))
        _ = try await pair.http.post("/sim/companies/\(pair.sim.defaultRealmID)/invoices/\(other.qboId!)/void", json: [:])
        await #expect {
            _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: Self.demandInput(id: "dem-2", amounts: ["5.00"], docNumber: nil)))
        } throws: { rpcReason($0) == "conflict" }
        #expect(try await pair.control.call(EntityListCall.self, .init(org: .test("acme"), status: .voided)).entities.count == 1)
        await subscriber.close()
    }

    @Test func amountsAndFieldsAreValidated() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: Self.developmentInput))
        for (amount, field) in [("1.234", "demand.lines[0].amount"), ("-5.00", "demand.lines[0].amount")] as [(JSONValue, String)] {
            await #expect {
                _ = try await pair.control.call("invoice.sync", params: ["org": "acme", "demand": Self.demand(amounts: [amount])])
            } throws: { ($0 as? ControlClientError)?.rpcError?.data["field"] == .string(field) }
        }
        await #expect {
            _ = try await pair.control.call("invoice.sync", params: ["org": "acme", "demand": Self.demand(amounts: [1.005])])
        } throws: { rpcReason($0) == "invalid_params" }
        await #expect {
            _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: Self.demandInput(dueDate: "31/12/2026")))
        } throws: { ($0 as? ControlClientError)?.rpcError?.data["field"] == "demand.dueDate" }
        await #expect {
            _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: DevelopmentInput(id: "dev-3", name: "a:b")))
        } throws: { ($0 as? ControlClientError)?.rpcError?.data["field"] == "development.name" }
        #expect(try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json["invoices"]?.arrayValue?.isEmpty == true, "nothing reached QuickBooks")
    }

    @Test func listingSummariesAndIntuitFailures() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: Self.developmentInput))
        for index in 1...5 {
            _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: Self.demandInput(id: "dem-\(index)", docNumber: "D-\(index)", dueDate: index == 5 ? "2020-01-01" : "2099-12-31")))
        }
        var seen: [String] = []
        var cursor: JSONValue = .null
        repeat {
            var params: [String: JSONValue] = ["org": "acme", "kind": "demand", "limit": 2]
            if cursor != .null { params["cursor"] = cursor }
            let page = try await pair.control.call("entity.list", params: .object(params))
            seen += page["entities"]?.arrayValue?.compactMap { $0["localId"]?.stringValue } ?? []
            cursor = page["nextCursor"] ?? .null
            if seen.count == 2 {
                // A row added while paging is still seen (cursors follow insertion order).
                _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: Self.demandInput(id: "dem-6", docNumber: "D-6")))
            }
        } while cursor != .null
        #expect(seen == ["dem-1", "dem-2", "dem-3", "dem-4", "dem-5", "dem-6"])
        let summary = try await pair.control.call(SyncSummaryCall.self, OrgParams(org: .test("acme")))
        #expect(summary.customers == 1)
        #expect(summary.invoices == .init(Outstanding: 5, Paid: 0, Overdue: 1, Voided: 0, total: 6))
        #expect(summary.reads.count >= 1, "the item look-up was a metered read")

        // 5xx is retried; a persistent outage is qbo_unavailable; 429 is rate_limited.
        _ = try await pair.http.post("/sim/faults", json: ["status": 500, "path": "/customer", "count": 1])
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: DevelopmentInput(id: "dev-2", name: "Second")))
        _ = try await pair.http.post("/sim/faults", json: ["status": 503, "path": "/customer", "count": 3])
        await #expect {
            _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: DevelopmentInput(id: "dev-3", name: "Third")))
        } throws: { rpcReason($0) == "qbo_unavailable" }
        _ = try await pair.http.post("/sim/faults", json: ["status": 429, "path": "/customer", "count": 1])
        await #expect {
            _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: DevelopmentInput(id: "dev-4", name: "Fourth")))
        } throws: { ($0 as? ControlClientError)?.rpcError?.data["retryAfterSeconds"] == 60 }
        // Retry-After is honoured across calls: the next one is refused without reaching QuickBooks.
        let servedBefore = try await served(pair)
        await #expect {
            _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: DevelopmentInput(id: "dev-5", name: "Fifth")))
        } throws: { rpcReason($0) == "rate_limited" }
        #expect(try await served(pair) == servedBefore)
        await #expect { _ = try await pair.control.call(InvoiceRefreshCall.self, DemandParams(org: .test("acme"), demandId: "nope")) } throws: { rpcReason($0) == "not_found" }
    }

    /// A token of the test's own for writing to the simulator as "someone else".
    func simToken(_ pair: Pair) async throws -> String {
        let other = try await pair.http.connect()
        return other.access
    }

    @Test func aStaleSyncTokenIsReadAgainAndTheUpdateRetriedOnce() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: Self.developmentInput))
        let created = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: Self.demandInput(amounts: ["300.00"])))
        let qboID = try #require(created.qboId)
        #expect(created.syncToken == "0")
        // Someone changes the invoice in QuickBooks (a partial payment bumps its SyncToken).
        _ = try await pair.http.post("/sim/companies/\(pair.sim.defaultRealmID)/invoices/\(qboID)/pay", json: ["amount": "100.00"])
        let updated = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: Self.demandInput(amounts: ["350.00"])))
        #expect(updated.qboId == qboID)
        #expect(updated.syncToken == "2", "read again after 5010, then updated")
        #expect(updated.totalAmount?.description == "350.00")
        #expect(updated.balance?.description == "250.00", "QuickBooks' own balance, payment kept")
    }
}
