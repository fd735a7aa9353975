import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// Edits made in QuickBooks (drift): found by the webhook and the change feed, or by a push whose
/// SyncToken is stale; a push never silently overwrites them, a forced one does.
@Suite(.timeLimit(.minutes(3))) struct DriftTests {
    func webhooksTo(_ pair: Pair) async throws {
        let listen = try await pair.control.call(DaemonStatusCall.self).webhook.listen
        _ = try await pair.http.post("/sim/webhooks/config", json: ["url": .string("http://\(listen)/api/webhooks/quickbooks"), "format": "cloudevents"])
    }

    /// The QuickBooks user edits after qbsyncd's write (Intuit's times have whole seconds, and an
    /// event in the second of qbsyncd's own write is taken for it).
    func later(_ pair: Pair) async throws { _ = try await pair.http.post("/sim/clock", json: ["advanceSeconds": 2]) }

    func entity(_ pair: Pair, kind: String, _ id: String) async throws -> JSONValue? {
        // The wire JSON: the drift's changes are compared as they were sent.
        try await pair.control.answer(EntityListCall.self, .init(org: .test("acme"), kind: MappingKind(rawValue: kind))).json["entities"]?.arrayValue?.first { $0["localId"] == .string(id) }
    }

    /// The mapping once it shows drift. Webhooks are flushed while waiting: a delivery that timed
    /// out on a loaded machine would otherwise wait for the simulator's retry (10 s, then 20 s).
    func drifted(_ pair: Pair, kind: String, _ id: String) async throws -> JSONValue {
        try await eventually(timeout: .seconds(30), "\(kind) \(id) shows drift") { () -> JSONValue? in
            let mapping = try await entity(pair, kind: kind, id)
            if mapping?["drift"]?.isNull == false { return mapping }
            _ = try await pair.http.post("/sim/webhooks/flush", json: [:])
            return nil
        }
    }

    func conflict<Answer>(_ call: () async throws -> Answer) async -> RPCErrorObject? {
        do {
            _ = try await call()
            return nil
        } catch {
            return (error as? ControlClientError)?.rpcError
        }
    }

    func invoice(_ pair: Pair, _ id: String) async throws -> JSONValue? {
        try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json["invoices"]?.arrayValue?.first { $0["Id"] == .string(id) }
    }

    @Test func anInvoiceEditedInQuickBooksIsDriftUntilAForcedPush() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        try await webhooksTo(pair)
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        let demand = SyncTests.demandInput(amounts: ["1250.10", "99.90"])
        let created = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: demand))
        let qboID = try #require(created.qboId)
        #expect(created.drift == nil)
        #expect(created.realmId == pair.sim.defaultRealmID)
        let subscriber = try await pair.daemon.connect()
        _ = try await subscriber.call(SubscribeCall.self, .init(topics: ["mapping.drift"]))
        _ = try await pair.http.post("/sim/webhooks/flush", json: [:])

        // A QuickBooks user lowers the total and moves the due date.
        try await later(pair)
        let edit = try await pair.http.post("/sim/companies/\(pair.sim.defaultRealmID)/invoices/\(qboID)/edit", json: ["TotalAmt": "1000.00", "DueDate": "2099-06-30"])
        #expect(edit.status == 200)
        _ = try await pair.http.post("/sim/webhooks/flush", json: [:])

        // The webhook and the change feed reveal it: the mapping shows drift, subscribers are told.
        let mapping = try await drifted(pair, kind: "demand", "dem-1")
        let changes = try #require(mapping["drift"]?["changes"]?.arrayValue)
        #expect(changes.map { $0["field"]?.stringValue ?? "" } == ["DueDate", "Line", "TotalAmt"])
        #expect(changes.contains { $0 == ["field": "TotalAmt", "pushed": "1350.00", "now": "1000.00"] })
        #expect(changes.contains { $0 == ["field": "Line", "pushed": ["1250.10", "99.90"], "now": ["900.10", "99.90"]] })
        #expect(changes.contains { $0 == ["field": "DueDate", "pushed": "2099-12-31", "now": "2099-06-30"] })
        #expect(mapping["drift"]?["detectedAt"]?.stringValue.flatMap(Timestamp.parse) != nil)
        #expect(mapping["totalAmount"] == "1000.00", "the mapping shows what QuickBooks holds")
        var notifications = subscriber.notifications.makeAsyncIterator()
        let notice = try #require(await notifications.next())
        #expect(notice.method == "mapping.drift")
        #expect(notice.params["org"] == "acme" && notice.params["kind"] == "demand" && notice.params["localId"] == "dem-1")
        #expect(notice.params["qboId"] == .string(qboID))
        #expect(notice.params["changes"] == mapping["drift"]?["changes"])
        #expect(notice.params["at"]?.stringValue != nil)
        #expect(!pair.daemon.log.contains("1000.00"), "QuickBooks amounts stay out of the log")

        // The next push does not overwrite it, with the demand unchanged or changed.
        for pushed in [demand, SyncTests.demandInput(amounts: ["1500.00"])] {
            let refused = await conflict { try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: pushed)) }
            #expect(refused?.code == 1012)
            #expect(refused?.reason == "conflict")
            #expect(refused?.data["changes"] == mapping["drift"]?["changes"])
        }
        #expect(try await invoice(pair, qboID)?["TotalAmt"] == 1000, "QuickBooks keeps the user's edit")

        // force:true overwrites it and ends the drift.
        let forced = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: demand, force: true))
        #expect(forced.drift == nil)
        #expect(forced.totalAmount?.description == "1350.00")
        #expect(forced.dueDate == "2099-12-31")
        #expect(try await invoice(pair, qboID)?["TotalAmt"] == 1350)
        #expect(try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: demand)).drift == nil, "an ordinary push goes through again")
        await subscriber.close()
    }

    @Test func aCustomerEditedInQuickBooksIsDriftUntilAForcedPush() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        try await webhooksTo(pair)
        _ = try await pair.connect("acme")
        let created = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        let qboID = try #require(created.qboId)
        let subscriber = try await pair.daemon.connect()
        _ = try await subscriber.call(SubscribeCall.self, .init(topics: ["mapping.drift"]))
        _ = try await pair.http.post("/sim/webhooks/flush", json: [:])

        try await later(pair)
        let edit = try await pair.http.post(
            "/sim/companies/\(pair.sim.defaultRealmID)/customers/\(qboID)/edit", json: ["DisplayName": "Maple Court (QB)", "PrimaryEmailAddr": "someone@else.example"]
        )
        #expect(edit.status == 200)
        _ = try await pair.http.post("/sim/webhooks/flush", json: [:])

        let mapping = try await drifted(pair, kind: "development", "dev-1")
        #expect(
            mapping["drift"]?["changes"] == [
                ["field": "DisplayName", "pushed": "Maple Court", "now": "Maple Court (QB)"],
                ["field": "PrimaryEmailAddr", "pushed": "office@maplecourt.example", "now": "someone@else.example"],
            ]
        )
        var notifications = subscriber.notifications.makeAsyncIterator()
        let notice = try #require(await notifications.next())
        #expect(notice.method == "mapping.drift" && notice.params["kind"] == "development" && notice.params["localId"] == "dev-1")
        // The turn settles its events after it records the drift: wait for none to be pending.
        let events = try await eventually("the customer events settled") { () -> [JSONValue]? in
            let events = try await pair.control.call(EventListCall.self, .init(org: .test("acme"))).events
            return events.contains { $0["status"] == "pending" } ? nil : events
        }
        #expect(events.contains { $0["entityName"] == "Customer" && $0["resolvedBy"]?.stringValue?.hasPrefix("read customer \(qboID): edited in QuickBooks") == true }, "\(events)")
        #expect(events.contains { $0["entityName"] == "Customer" && $0["resolvedBy"]?.stringValue?.hasPrefix("qbsyncd's own write") == true }, "the create needed no read")

        let refused = await conflict { try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput)) }
        #expect(refused?.code == 1012)
        #expect(refused?.data["changes"]?.arrayValue?.first?["field"] == "DisplayName")
        let forced = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput, force: true))
        #expect(forced.drift == nil)
        let customer = try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json["customers"]?.arrayValue?.first { $0["Id"] == .string(qboID) }
        #expect(customer?["DisplayName"] == "Maple Court")
        #expect(customer?["PrimaryEmailAddr"]?["Address"] == "office@maplecourt.example")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        await subscriber.close()
    }

    @Test func aPushWithAStaleSyncTokenComparesBeforeItOverwrites() async throws {
        // No webhooks: only the push itself can find the edit.
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        let edited = try #require(try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput())).qboId)
        let paid = try #require(try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(id: "dem-2", amounts: ["100.00"], docNumber: "SC-2"))).qboId)
        try await later(pair)
        _ = try await pair.http.post("/sim/companies/\(pair.sim.defaultRealmID)/invoices/\(edited)/edit", json: ["DocNumber": "QB-77"])
        _ = try await pair.http.post("/sim/companies/\(pair.sim.defaultRealmID)/invoices/\(paid)/pay", json: ["amount": 40])

        // The edit: Intuit refuses the stale SyncToken, the re-read shows the edit, nothing is overwritten.
        let refused = await conflict { try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(amounts: ["1300.00"]))) }
        #expect(refused?.code == 1012)
        #expect(refused?.data["changes"] == [["field": "DocNumber", "pushed": "SC-2026-001", "now": "QB-77"]])
        #expect(try await invoice(pair, edited)?["DocNumber"] == "QB-77")
        #expect(try await invoice(pair, edited)?["TotalAmt"] == 1250.1)
        #expect(try await entity(pair, kind: "demand", "dem-1")?["drift"]?["changes"] == refused?.data["changes"])

        // The payment: a stale SyncToken too, but not drift; the push goes through.
        let moved = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(id: "dem-2", amounts: ["100.00"], docNumber: "SC-2", dueDate: "2099-11-30")))
        #expect(moved.drift == nil)
        #expect(moved.dueDate == "2099-11-30")
        #expect(moved.balance?.description == "60.00")
        #expect(moved.syncToken == "2")

        let forced = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(amounts: ["1300.00"]), force: true))
        #expect(forced.drift == nil)
        #expect(forced.docNumber == "SC-2026-001")
        #expect(forced.totalAmount?.description == "1300.00")
    }

    @Test func aPaymentIsNotDriftAndAVoidIs() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        try await webhooksTo(pair)
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        let paid = try #require(try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput())).qboId)
        let voided = try #require(try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(id: "dem-2", docNumber: "SC-2"))).qboId)
        let subscriber = try await pair.daemon.connect()
        _ = try await subscriber.call(SubscribeCall.self, .init(topics: ["mapping.drift", "invoice.status_changed"]))
        _ = try await pair.http.post("/sim/webhooks/flush", json: [:])
        try await later(pair)

        _ = try await pair.http.post("/sim/companies/\(pair.sim.defaultRealmID)/invoices/\(paid)/pay", json: [:])
        _ = try await eventually(timeout: .seconds(30), "dem-1 Paid") { () -> Bool? in
            if try await entity(pair, kind: "demand", "dem-1")?["status"] == "Paid" { return true }
            _ = try await pair.http.post("/sim/webhooks/flush", json: [:])
            return nil
        }
        var notifications = subscriber.notifications.makeAsyncIterator()
        let first = try #require(await notifications.next())
        #expect(first.method == "invoice.status_changed", "a payment is a status change, not drift")
        #expect(first.params["to"] == "Paid")
        #expect(try await entity(pair, kind: "demand", "dem-1")?["drift"] == .null)
        #expect(try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput())).status.rawValue == "Paid")

        _ = try await pair.http.post("/sim/companies/\(pair.sim.defaultRealmID)/invoices/\(voided)/void", json: [:])
        _ = try await pair.http.post("/sim/webhooks/flush", json: [:])
        let mapping = try await drifted(pair, kind: "demand", "dem-2")
        #expect(mapping["status"] == "Voided")
        let changes = mapping["drift"]?["changes"]?.arrayValue ?? []
        #expect(changes.first == ["field": "status", "pushed": "Active", "now": "Voided"])
        #expect(changes.contains { $0 == ["field": "TotalAmt", "pushed": "1250.10", "now": "0.00"] })
        for force in [false, true] {
            let refused = await conflict {
                try await pair.control.call("invoice.sync", params: ["org": "acme", "demand": SyncTests.demand(id: "dem-2", docNumber: "SC-2"), "force": .bool(force)])
            }
            #expect(refused?.code == 1012, "a voided invoice cannot be updated, forced or not")
            #expect(refused?.data["changes"]?.arrayValue?.first?["field"] == "status")
        }
        await subscriber.close()
    }
}
