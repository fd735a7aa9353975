import Crypto
import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// The webhook listener and the event processor of the real daemon.
@Suite(.timeLimit(.minutes(3))) struct WebhookTests {
    static let classicBody = #"{"eventNotifications":[{"realmId":"1269959970","dataChangeEvent":{"entities":[{"name":"Vendor","id":"40","operation":"Update","lastUpdated":"2016-10-05T03:09:04.000Z"},{"name":"Customer","id":"43","operation":"Create","lastUpdated":"2016-10-05T03:07:04.000Z"}]}}]}"#

    static func sign(_ body: String) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: SymmetricKey(data: Data(SimulatorProcess.verifierToken.utf8)))).base64EncodedString()
    }

    func listener(_ pair: Pair) async throws -> SimClient {
        let listen = try await pair.control.call(DaemonStatusCall.self).webhook.listen
        return SimClient(base: "http://\(listen)")
    }

    @Test func deliveriesAreVerifiedStoredAndAnswered() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        let hook = try await listener(pair)
        // Intuit's own test vector (reference §3.4).
        #expect(Self.sign(Self.classicBody) == "6q+xGyMirJupwKTh2/WBl2NcdxzxqdIbk3sneKTxLWM=")
        let path = "/api/webhooks/quickbooks"
        let good = try await hook.send(.POST, path, headers: [("intuit-signature", Self.sign(Self.classicBody)), ("Content-Type", "application/json")], body: Data(Self.classicBody.utf8))
        #expect(good.status == 200)
        let forged = try await hook.send(.POST, path, headers: [("intuit-signature", Self.sign(Self.classicBody + " ")), ("Content-Type", "application/json")], body: Data(Self.classicBody.utf8))
        #expect(forged.status == 401)
        #expect(try await hook.send(.POST, path, body: Data(Self.classicBody.utf8)).status == 401, "no signature")
        let huge = String(repeating: "x", count: (1 << 20) + 1)
        #expect(try await hook.send(.POST, path, headers: [("intuit-signature", Self.sign(huge))], body: Data(huge.utf8)).status == 413)
        #expect(try await hook.get(path).status == 405)
        #expect(try await hook.get("/nowhere").status == 404)
        #expect(try await hook.get("/healthz").json == ["status": "ok"])

        // The two events are stored; their realm belongs to no org, so they are ignored with the reason.
        let events = try await eventually("events listed") { () -> [JSONValue]? in
            let events = try await pair.control.call(EventListCall.self, .init()).events
            return events.count == 2 && events.allSatisfy({ $0["status"] != "pending" }) ? events : nil
        }
        #expect(events[0]["entityName"] == "Customer", "newest first")
        #expect(events.allSatisfy { $0["status"] == "ignored" && $0["processError"]?.stringValue?.contains("1269959970") == true })
        let status = try await pair.control.call(DaemonStatusCall.self)
        #expect(status.webhook.accepted == 1)
        #expect(status.webhook.rejected == 2)
        let metrics = try await hook.get("/metrics").text
        #expect(metrics.contains("qbsyncd_webhooks_accepted_total 1"))
        #expect(metrics.contains(#"qbsyncd_webhooks_rejected_total{reason="signature"} 2"#))
        #expect(metrics.contains("qbsyncd_control_requests_total"))
        #expect(pair.daemon.log.contains("webhook refused: missing or wrong intuit-signature"))

        // The delivery log is append-only: the database refuses changes.
        let outcomes = try await TestStore.outcomes(
            pair.daemon, statements: ["UPDATE qb_webhook_deliveries SET signature = 'x'", "DELETE FROM qb_webhook_deliveries", "UPDATE qb_webhook_events SET entity_id = '1'"]
        )
        #expect(outcomes.count == 3 && outcomes.allSatisfy { $0.hasPrefix("refused:") }, "\(outcomes)")
    }

    @Test func aPaymentInQuickBooksTurnsTheInvoicePaidByWebhook() async throws {
        let pair = try await Pair.start(simEnvironment: ["QBOSIM_DUPLICATE_RATE": "1"])
        defer { pair.cleanUp() }
        let hook = try await listener(pair)
        _ = try await pair.http.post("/sim/webhooks/config", json: ["url": .string(hook.base + "/api/webhooks/quickbooks"), "format": "cloudevents"])
        _ = try await pair.connect("acme")
        let subscriber = try await pair.daemon.connect()
        _ = try await subscriber.call(SubscribeCall.self, .init(org: .test("acme"), topics: ["invoice.status_changed"]))
        var notifications = subscriber.notifications.makeAsyncIterator()
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        let invoice = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput()))
        let qboID = try #require(invoice.qboId)

        _ = try await pair.http.post("/sim/companies/\(pair.sim.defaultRealmID)/invoices/\(qboID)/pay", json: [:])
        _ = try await pair.http.post("/sim/webhooks/flush", json: [:])
        let change = try #require(await notifications.next())
        #expect(change.params["demandId"] == "dem-1")
        #expect(change.params["to"] == "Paid")
        let mapping = try await pair.control.call(EntityListCall.self, .init(org: .test("acme"), kind: .demand)).entities.first
        #expect(mapping?.status == .paid)

        // Every delivery came twice: the copies are recognised at intake (F10), or ignored when processed.
        let events = try await eventually("events processed") { () -> [JSONValue]? in
            let events = try await pair.control.call(EventListCall.self, .init(org: .test("acme"))).events
            return events.contains(where: { $0["status"] == "pending" }) || events.isEmpty ? nil : events
        }
        let duplicates = try await pair.control.call(DaemonStatusCall.self).webhook.duplicates
        #expect(duplicates > 0 || events.contains { $0["status"] == "ignored" && $0["processError"]?.stringValue?.hasPrefix("duplicate of event") == true })
        #expect(events.contains { $0["type"] == "payment.created" && $0["status"] == "processed" })
        await subscriber.close()
    }

    @Test func anAcknowledgedDeliverySurvivesKillNine() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        let hook = try await listener(pair)
        var acknowledged = 0
        for index in 0..<20 {
            let body = #"{"eventNotifications":[{"realmId":"555","dataChangeEvent":{"entities":[{"name":"Invoice","id":"\#(index)","operation":"Update","lastUpdated":"2026-11-25T10:00:00.000Z"}]}}]}"#
            if try await hook.send(.POST, "/api/webhooks/quickbooks", headers: [("intuit-signature", Self.sign(body))], body: Data(body.utf8)).status == 200 { acknowledged += 1 }
        }
        pair.daemon.signal(SIGKILL)
        _ = try await pair.daemon.waitForExit()
        try await pair.daemon.start()
        let client = try await pair.daemon.connect()
        let events = try await client.call(EventListCall.self, .init(limit: 100)).events
        #expect(acknowledged == 20)
        #expect(events.count == 20, "every 200-acknowledged delivery is in the log after kill -9")
        await client.close()
    }

    @Test func theListenerAnswers503WhileTheIntegrationIsDisabled() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanUp() }
        try await daemon.start()
        let client = try await daemon.connect()
        let listen = try await client.call(DaemonStatusCall.self).webhook.listen
        let reply = try await SimClient(base: "http://\(listen)").send(.POST, "/api/webhooks/quickbooks", headers: [("intuit-signature", Self.sign("{}"))], body: Data("{}".utf8))
        #expect(reply.status == 503)
        await client.close()
    }

    @Test func withWebhooksLostTheChangeFeedStillTurnsTheInvoicePaidAndMeasuresTheLoss() async throws {
        // The simulator sends no webhooks at all; the daemon reads the CDC feed every second.
        let pair = try await Pair.start(daemonEnvironment: ["QBSYNCD_SWEEP_PERIOD": "1", "QBSYNCD_RECONCILE_GRACE": "0"])
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        let subscriber = try await pair.daemon.connect()
        _ = try await subscriber.call(SubscribeCall.self, .init(topics: ["invoice.status_changed", "webhook.loss"]))
        var notifications = subscriber.notifications.makeAsyncIterator()
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        let invoice = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput()))
        _ = try await pair.http.post("/sim/companies/\(pair.sim.defaultRealmID)/invoices/\(invoice.qboId!)/pay", json: [:])

        var methods: [String] = []
        while methods.count < 2, let next = await notifications.next() {
            methods.append(next.method)
            if next.method == "invoice.status_changed" { #expect(next.params["to"] == "Paid") }
        }
        #expect(Set(methods) == ["invoice.status_changed", "webhook.loss"])
        #expect(try await pair.control.call(EntityListCall.self, .init(org: .test("acme"), kind: .demand)).entities.first?.status.rawValue == "Paid")
        let webhook = try await pair.control.call(DaemonStatusCall.self).webhook
        #expect(webhook.missedByWebhooks >= 1)
        #expect(webhook.lossRate == 1, "every change was missed by webhooks here")
        #expect(pair.daemon.log.contains("webhook loss above threshold"))
        let listen = webhook.listen
        #expect(try await SimClient(base: "http://\(listen)").get("/metrics").text.contains(#"qbsyncd_reconciled_changes{reported="missed_by_webhook"}"#))
        await subscriber.close()
    }

    @Test func aFailedEventIsVisibleAndRetriedOnRequest() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        let hook = try await listener(pair)
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        let invoice = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput()))
        // Intuit refuses the grant: processing the event fails, visibly.
        _ = try await pair.http.post("/sim/faults", json: ["fault": "invalid_grant", "count": 1])
        _ = try? await pair.control.call(TokenRefreshCall.self, OrgParams(org: .test("acme")))
        // A change made in QuickBooks after the push (an earlier one would need no read at all).
        let changedAt = Timestamp.string(Date().addingTimeInterval(120))
        let body = #"{"eventNotifications":[{"realmId":"\#(pair.sim.defaultRealmID)","dataChangeEvent":{"entities":[{"name":"Invoice","id":"\#(invoice.qboId!)","operation":"Update","lastUpdated":"\#(changedAt)"}]}}]}"#
        #expect(try await hook.send(.POST, "/api/webhooks/quickbooks", headers: [("intuit-signature", Self.sign(body))], body: Data(body.utf8)).status == 200)
        let failed = try await eventually("the event failed") { () -> JSONValue? in
            try await pair.control.call(EventListCall.self, .init(org: .test("acme"), status: "failed")).events.first
        }
        #expect(failed["processError"]?.stringValue?.contains("must connect to QuickBooks again") == true)
        #expect(failed["attempts"] == 1)
        // daemon.status counts the events after the company's turn ends, a moment after the event's own write.
        _ = try await eventually("daemon.status counts the failed event") {
            try await pair.control.call(DaemonStatusCall.self).events.failed == 1 ? true : nil
        }

        // Once the org is connected again, the operator retries it.
        _ = try await pair.connect("acme")
        let retried = try await pair.control.call("event.retry", params: ["id": failed["id"]!])
        #expect(retried["status"] == "processed")
        #expect(retried["attempts"] == 2)
        #expect(try await pair.control.call(DaemonStatusCall.self).events.failed == 0)
        await #expect { _ = try await pair.control.call("event.retry", params: ["id": 999_999]) } throws: { rpcReason($0) == "not_found" }
    }
}
