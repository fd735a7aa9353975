import Foundation
import PostgresNIO
import QBControlClient
import QBSyncCore
import QBSyncStorePostgres
import QBTestSupport
import Testing

/// Instances sharing PostgreSQL wake each other (LISTEN/NOTIFY): a delivery taken by one instance
/// for a company another holds is settled by the holder at once, and the holder's notification
/// reaches a subscriber of the first. Leases of 600 s (a heartbeat every 100 s), so neither could
/// happen in time by the heartbeat alone.
@Suite(.enabled(if: Cluster.isAvailable, "several instances share a store only on PostgreSQL (QBSYNCD_TEST_BACKEND=postgres)"), .timeLimit(.minutes(2)))
struct InstanceBridgeTests {
    @Test func aDeliveryTakenByOneInstanceIsSettledByTheHolderAndItsNotificationReachesTheFirstsSubscriber() async throws {
        let cluster = try await Cluster.start(instances: 2, daemonEnvironment: ["QBSYNCD_LEASE_SECONDS": "600"])
        defer { cluster.cleanUp() }
        let (realm, qboID) = try await FailoverTests.acmeWithAnInvoice(cluster)
        let hooks = [try await FailoverTests.listener(cluster.daemons[0]), try await FailoverTests.listener(cluster.daemons[1])]

        // A delivery makes one instance take the company (work for a company no one holds nudges a
        // beat); which one depends on timing (the simulator's own webhooks may reach either first).
        #expect(try await FailoverTests.post(FailoverTests.delivery(realmID: realm, tag: "first"), to: hooks[0]))
        let held = try await TestStore.withPostgres(cluster.daemons[0]) { store in
            try await cluster.eventually(timeout: .seconds(30), "an instance holding \(realm)") { () -> FailoverTests.Lease? in
                try await FailoverTests.leases(store).first { $0.realmID == realm && $0.live }
            }
        }
        let holder = try #require(cluster.index(owning: held.owner), "\(held)")
        let other = 1 - holder

        // A subscriber of the other instance; the payment's webhook goes to the other, which stores
        // it; the holder settles it.
        let subscriber = try await cluster.daemons[other].connect()
        _ = try await subscriber.call(SubscribeCall.self, .init(org: .test("acme"), topics: ["invoice.status_changed"]))
        var notifications = subscriber.notifications.makeAsyncIterator()
        _ = try await cluster.http.post("/sim/webhooks/config", json: ["url": .string(hooks[other].base + "/api/webhooks/quickbooks"), "format": "cloudevents"])
        _ = try await cluster.http.post("/sim/companies/\(realm)/invoices/\(qboID)/pay", json: [:])
        _ = try await cluster.http.post("/sim/webhooks/flush", json: [:])

        let started = ContinuousClock.now
        let change = try #require(await notifications.next(), "the other instance's subscriber got the holder's notification")
        #expect(change.method == "invoice.status_changed" && change.params["to"] == "Paid")
        #expect(ContinuousClock.now - started < .seconds(60), "within the 100 s heartbeat")
        await subscriber.close()

        // The other never held the company: it was the holder's work, woken by the other's announcement.
        let control = try await cluster.daemons[holder].connect()
        #expect(try await control.call(EntityListCall.self, .init(org: .test("acme"), kind: .demand)).entities.first?.status.rawValue == "Paid")
        await control.close()
        try await TestStore.withPostgres(cluster.daemons[0]) { store in
            let lease = try await FailoverTests.leases(store).first { $0.realmID == realm }
            #expect(lease?.owner == held.owner && lease?.generation == held.generation, "one holder throughout: \(String(describing: lease))")
        }
    }
}
