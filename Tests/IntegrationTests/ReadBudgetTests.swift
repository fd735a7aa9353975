import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// The app-wide read budget and the per-company pipeline, through the real daemon and simulator.
@Suite(.timeLimit(.minutes(3))) struct ReadBudgetTests {
    func usage(_ pair: Pair) async throws -> JSONValue { try await pair.http.get("/sim/usage").json }

    func quota(_ pair: Pair) async throws -> JSONValue { try #require(try await pair.control.call("daemon.status")["quota"]) }

    func webhooksTo(_ pair: Pair) async throws {
        let listen = try await pair.control.call(DaemonStatusCall.self).webhook.listen
        _ = try await pair.http.post("/sim/webhooks/config", json: ["url": .string("http://\(listen)/api/webhooks/quickbooks"), "format": "cloudevents"])
    }

    /// Events of a company, once none is pending.
    func settledEvents(_ pair: Pair, org: String, count: Int, timeout: Duration = .seconds(15)) async throws -> [JSONValue] {
        try await eventually(timeout: timeout, "\(count) events of \(org) settled") { () -> [JSONValue]? in
            let events = try await pair.control.call(EventListCall.self, .init(org: .test(org), limit: 200)).events
            return events.count >= count && !events.contains(where: { $0["status"] == "pending" }) ? events : nil
        }
    }

    @Test func readsStopAtTheBudgetWritesGoOnAndTheCountSurvivesARestart() async throws {
        // A budget of 12 with a quarter kept for operators: events stop at 9, operators at 12.
        let pair = try await Pair.start(daemonEnvironment: ["QUICKBOOKS_READ_QUOTA": "12", "QBSYNCD_READ_RESERVE": "25"])
        defer { pair.cleanUp() }
        let subscriber = try await pair.daemon.connect()
        _ = try await subscriber.call(SubscribeCall.self, .init(topics: ["quota.status_changed"]))
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput()))
        var refused: (any Error)?
        for _ in 0..<20 {
            do { _ = try await pair.control.call(InvoiceRefreshCall.self, DemandParams(org: .test("acme"), demandId: "dem-1")) } catch {
                refused = error
                break
            }
        }
        let error = try #require(refused as? ControlClientError)
        #expect(error.rpcError?.reason == "read_quota_exhausted")
        #expect(error.rpcError?.code == 1013)
        let data = error.rpcError?.data
        #expect(data?["used"] == 12 && data?["budget"] == 12)
        #expect(data?["month"]?.stringValue?.count == 7)
        #expect(data?["resetsAt"]?.stringValue?.hasSuffix("-01T00:00:00Z") == true)

        // Every read the simulator served was counted, and none past the budget reached it.
        let served = try await usage(pair)
        #expect(served["metered"] == 12)
        #expect(served["refused"] == 0, "the daemon refused before Intuit had to")
        let status = try await quota(pair)
        #expect(status["used"] == 12 && status["budget"] == 12 && status["reserve"] == 3 && status["state"] == "exhausted")
        _ = try await eventually("the sweep plan sheds sweeps") { () -> Bool? in
            try await quota(pair)["sweepPeriodSeconds"] == .null ? true : nil
        }

        // Writes are never refused for the budget.
        let updated = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(amounts: ["99.00"])))
        #expect(updated.totalAmount?.description == "99.00")

        // Operators were told as the state moved, up to exhausted.
        var seen: [String] = []
        var notifications = subscriber.notifications.makeAsyncIterator()
        while seen.last != "exhausted", let next = await notifications.next() {
            #expect(next.method == "quota.status_changed")
            seen.append(next.params["to"]?.stringValue ?? "")
        }
        #expect(seen.last == "exhausted")
        #expect(pair.daemon.log.contains("the app's monthly budget of QuickBooks reads changed state"))

        let shown = try await pair.control.call(QuotaShowCall.self)
        #expect(shown.quota.used == 12)
        #expect(shown.byRealm.first?.org == "acme")
        #expect(shown.byRealm.first?.reads == 12)
        let listen = try await pair.control.call(DaemonStatusCall.self).webhook.listen
        let metrics = try await SimClient(base: "http://\(listen)").get("/metrics").text
        #expect(metrics.contains(#"qbsyncd_read_quota{kind="used"} 12"#))
        #expect(metrics.contains(#"qbsyncd_read_quota_state{state="exhausted"} 1"#))

        // A restart loses no count.
        pair.daemon.signal(SIGTERM)
        _ = try await pair.daemon.waitForExit()
        try await pair.daemon.start()
        let again = try await pair.daemon.connect()
        #expect(try await again.call(DaemonStatusCall.self).quota.used == 12)
        await #expect { _ = try await again.call(OrgTestCall.self, OrgParams(org: .test("acme"))) } throws: { rpcReason($0) == "read_quota_exhausted" }
        await again.close()
        await subscriber.close()
    }

    @Test func aBurstOfEventsCostsOneReadAndOwnWritesNone() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        try await webhooksTo(pair)
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        var invoices: [String] = []
        for index in 1...4 {
            let demand = SyncTests.demand(id: "dem-\(index)", docNumber: "SC-\(index)")
            invoices.append(try #require(try await pair.control.call("invoice.sync", params: ["org": "acme", "demand": demand])["qboId"]?.stringValue))
        }
        // The webhooks of the daemon's own writes need no read.
        let before = try await usage(pair)["metered"]?.intValue ?? -1
        _ = try await pair.http.post("/sim/webhooks/flush", json: [:])
        let own = try await settledEvents(pair, org: "acme", count: 4)
        #expect(own.filter { $0["entityName"] == "Invoice" }.allSatisfy { $0["resolvedBy"]?.stringValue?.hasPrefix("qbsyncd's own write") == true }, "\(own)")
        #expect(try await usage(pair)["metered"]?.intValue == before, "no read for the daemon's own writes")

        // Four payments at once: eight events, one change-feed read.
        for id in invoices { _ = try await pair.http.post("/sim/companies/\(pair.sim.defaultRealmID)/invoices/\(id)/pay", json: [:]) }
        _ = try await pair.http.post("/sim/webhooks/flush", json: [:])
        let events = try await settledEvents(pair, org: "acme", count: 12)
        let paid = try await pair.control.call(EntityListCall.self, .init(org: .test("acme"), kind: .demand)).entities
        #expect(paid.count == 4 && paid.allSatisfy { $0.status == .paid })
        #expect(try await usage(pair)["metered"]?.intValue == before + 1, "one read for all eight events")
        #expect(events.filter { $0["type"] == "payment.created" }.allSatisfy { $0["resolvedBy"]?.stringValue?.hasPrefix("change feed read at") == true })
        #expect(try await quota(pair)["byClass"]?["event"]?.intValue ?? 0 >= 1)

        // A payment voided in QuickBooks: its record no longer names the invoice, the feed does.
        let company = try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json
        let payment = try #require(company["payments"]?.arrayValue?.first?["Id"]?.stringValue)
        let subscriber = try await pair.daemon.connect()
        _ = try await subscriber.call(SubscribeCall.self, .init(topics: ["invoice.status_changed"]))
        _ = try await pair.http.post("/sim/companies/\(pair.sim.defaultRealmID)/payments/\(payment)/void", json: [:])
        _ = try await pair.http.post("/sim/webhooks/flush", json: [:])
        var notifications = subscriber.notifications.makeAsyncIterator()
        let change = try #require(await notifications.next())
        #expect(change.params["from"] == "Paid" && change.params["to"] == "Outstanding")
        await subscriber.close()
    }

    @Test func aHangingCompanyNeverDelaysAnother() async throws {
        let pair = try await Pair.start(daemonEnvironment: ["QUICKBOOKS_TIMEOUT": "2"])
        defer { pair.cleanUp() }
        let slowRealm = pair.sim.defaultRealmID
        let fastRealm = try await pair.newCompany()
        _ = try await pair.connect("slow", realmID: slowRealm)
        _ = try await pair.connect("fast", realmID: fastRealm)
        var invoices: [String: String] = [:]
        for org in ["slow", "fast"] {
            _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test(org), development: SyncTests.developmentInput))
            invoices[org] = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test(org), demand: SyncTests.demandInput())).qboId
        }
        // The slow company's API hangs past the daemon's timeout on every call from now on.
        _ = try await pair.http.post("/sim/faults", json: ["realmId": .string(slowRealm), "path": "/v3/", "delayMs": 5000, "count": 1000])
        var events: [String] = []
        for (org, realm) in [("slow", slowRealm), ("fast", fastRealm)] {
            _ = try await pair.http.post("/sim/companies/\(realm)/invoices/\(invoices[org]!)/pay", json: [:])
            let payment = try #require(try await pair.http.get("/sim/companies/\(realm)").json["payments"]?.arrayValue?.first?["Id"]?.stringValue)
            events.append(
                #"{"specversion":"1.0","id":"\#(UUID().uuidString)","source":"intuit.test","type":"qbo.payment.created.v1","time":"\#(Timestamp.string(Date()))","intuitentityid":"\#(payment)","intuitaccountid":"\#(realm)","data":{}}"#
            )
        }
        // Intuit's CloudEvents POST may hold several companies: one delivery with both payments.
        let body = "[" + events.joined(separator: ",") + "]"
        let listen = try await pair.control.call(DaemonStatusCall.self).webhook.listen
        let started = ContinuousClock.now
        let reply = try await SimClient(base: "http://\(listen)").send(.POST, "/api/webhooks/quickbooks", headers: [("intuit-signature", WebhookTests.sign(body))], body: Data(body.utf8))
        #expect(reply.status == 200)
        _ = try await eventually(timeout: .seconds(8), "the fast company's invoice Paid") { () -> Bool? in
            let mapping = try await pair.control.call(EntityListCall.self, .init(org: .test("fast"), kind: .demand)).entities.first
            return mapping?.status == .paid ? true : nil
        }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed < .seconds(8), "the fast company turned Paid in \(elapsed) while the slow one hung")
        let slow = try await pair.control.call(EntityListCall.self, .init(org: .test("slow"), kind: .demand)).entities.first
        #expect(slow?.status == .outstanding, "the slow company is still waiting")
        // The counts are refreshed after each settle, not with it: polled.
        _ = try await eventually(timeout: .seconds(5), "the slow company's event counted as queued") { () -> Bool? in
            try await pair.control.call(DaemonStatusCall.self).pipeline.eventsQueued >= 1 ? true : nil
        }

        // Once its API answers again, the slow company catches up too.
        _ = try await pair.http.send(.DELETE, "/sim/faults")
        _ = try await eventually(timeout: .seconds(40), "the slow company's invoice Paid") { () -> Bool? in
            let mapping = try await pair.control.call(EntityListCall.self, .init(org: .test("slow"), kind: .demand)).entities.first
            return mapping?.status == .paid ? true : nil
        }
    }

    @Test func aSignedDeliveryWithEventsThatCannotBeParsedIsStoredAndShown() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        let listen = try await pair.control.call(DaemonStatusCall.self).webhook.listen
        let body = #"[{"specversion":"1.0","id":"e1","type":"qbo.invoice.updated.v1","intuitentityid":5,"intuitaccountid":4620816365},{"specversion":"1.0","id":"e2","type":"qbo.invoice.updated.v1"}]"#
        let reply = try await SimClient(base: "http://\(listen)").send(
            .POST, "/api/webhooks/quickbooks", headers: [("intuit-signature", WebhookTests.sign(body))], body: Data(body.utf8)
        )
        #expect(reply.status == 200)
        // Extracted after the commit that answered 200 (at once on SQLite, a moment later on PostgreSQL).
        let events = try await eventually("both events extracted") { () -> [JSONValue]? in
            let events = try await pair.control.call(EventListCall.self, .init()).events
            return events.count >= 2 ? events : nil
        }
        #expect(events.count == 2)
        let unparsed = try #require(events.first { $0["type"] == "unparsed" })
        #expect(unparsed["status"] == "failed")
        #expect(unparsed["processError"]?.stringValue?.contains("e2") == true)
        #expect(events.contains { $0["entityId"] == "5" && $0["realmId"] == "4620816365" }, "an id given as a number is kept")
        let status = try await eventually("the failed event counted") { () -> DaemonStatus? in
            let status = try await pair.control.call(DaemonStatusCall.self)
            return status.events.failed == 1 ? status : nil
        }
        #expect(status.webhook.unparsed == 1)
        #expect(try await SimClient(base: "http://\(listen)").get("/metrics").text.contains("qbsyncd_webhook_events_unparsed_total 1"))
    }

    @Test func aFullChangeFeedAnswerIsReadOnNeverSkipped() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        try await webhooksTo(pair)
        let realm = pair.sim.defaultRealmID
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        let invoice = try #require(try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput())).qboId)
        // Someone else's 1,020 invoices in the same company (a bulk import): newer than ours.
        let token = try #require(try await pair.http.get("/sim/tokens/\(realm)").json["accessTokens"]?.arrayValue?.first?.stringValue)
        let customer = try await pair.http.post("/v3/company/\(realm)/customer", json: ["DisplayName": "Bulk Co"], token: token).json["Customer"]!
        for _ in 0..<34 {
            let items: [JSONValue] = (0..<30).map { index in
                [
                    "bId": .string("\(index)"), "operation": "create",
                    "Invoice": ["CustomerRef": ["value": customer["Id"]!], "Line": [["Amount": 10, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": ["ItemRef": ["value": "1"]]]]],
                ]
            }
            #expect(try await pair.http.post("/v3/company/\(realm)/batch", json: ["BatchItemRequest": .array(items)], token: token).status == 200)
        }
        _ = try await pair.http.post("/sim/webhooks/flush", json: [:])
        let before = try await quota(pair)["byClass"]?["event"]?.intValue ?? 0
        // Our invoice is paid last: its change sits past the first 1,000 objects of the feed.
        _ = try await pair.http.post("/sim/companies/\(realm)/invoices/\(invoice)/pay", json: [:])
        _ = try await pair.http.post("/sim/webhooks/flush", json: [:])
        // The daemon first works through the 1,020 creations' webhooks: on PostgreSQL, with other
        // tests on the same two cores, that alone has taken past 20 s.
        _ = try await eventually(timeout: .seconds(90), "the invoice Paid through a second feed read") { () -> Bool? in
            let mapping = try await pair.control.call(EntityListCall.self, .init(org: .test("acme"), kind: .demand)).entities.first
            return mapping?.status == .paid ? true : nil
        }
        let reads = (try await quota(pair)["byClass"]?["event"]?.intValue ?? 0) - before
        #expect(reads >= 2, "a full answer (1,000 objects) is read on from its newest second: \(reads) reads")
        let payment = try await settledEvents(pair, org: "acme", count: 1).first { $0["type"] == "payment.created" }
        #expect(payment?["resolvedBy"]?.stringValue?.hasPrefix("change feed read at") == true, "\(String(describing: payment))")
    }
}
