import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// Pushes sent to an instance that does not hold the company's lease are carried out by the one
/// that does (issue 18, item 3): forwarded through the database, answered with the holder's result
/// or protocol error, and, when the holder stops, carried out by the next holder once it takes over.
@Suite(
    .enabled(if: Cluster.isAvailable, "several instances share a store only on PostgreSQL (QBSYNCD_TEST_BACKEND=postgres)"),
    .serialized, .timeLimit(.minutes(3))
)
struct ForwardedCallTests {
    /// The instance holding the company, once one does.
    static func holder(of realm: String, in cluster: Cluster) async throws -> (index: Int, lease: FailoverTests.Lease) {
        try await TestStore.withPostgres(cluster.daemons[0]) { store in
            let lease = try await cluster.eventually(timeout: .seconds(30), "an instance holding \(realm)") { () -> FailoverTests.Lease? in
                try await FailoverTests.leases(store).first { $0.realmID == realm && $0.live }
            }
            return (try #require(cluster.index(owning: lease.owner), "\(lease)"), lease)
        }
    }

    /// QuickBooks invoices whose memo names the demand (one per demand, or a duplicate was made).
    static func invoices(of demand: String, in cluster: Cluster) async throws -> Int {
        let invoices = try await cluster.http.get("/sim/companies/\(cluster.sim.defaultRealmID)").json["invoices"]?.arrayValue ?? []
        return invoices.filter { "\($0)".contains("BlockManOS demand \(demand)") }.count
    }

    @Test func pushesSentToAnInstanceThatDoesNotHoldTheCompanyAreCarriedOutByTheHolder() async throws {
        let cluster = try await Cluster.start(instances: 2, daemonEnvironment: ["QBSYNCD_LEASE_SECONDS": "600"])
        defer { cluster.cleanUp() }
        let (realm, _) = try await FailoverTests.acmeWithAnInvoice(cluster)
        let (holder, held) = try await Self.holder(of: realm, in: cluster)
        let other = 1 - holder
        let control = try await cluster.daemons[other].connect()
        defer { Task { await control.close() } }
        // (The first pushes, before anyone held the company, were forwarded too: by instance 0, to whoever took it.)
        let logsBefore = cluster.daemons.map { $0.log.count }

        // A create, an update and a refresh, all through the instance that does not hold the company.
        let created = try await control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(id: "dem-fwd", amounts: ["100.00"])))
        let qboID = try #require(created.qboId)
        let updated = try await control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(id: "dem-fwd", amounts: ["150.00"])))
        #expect(updated.qboId == qboID, "the update went to the same invoice")
        #expect(updated.totalAmount?.description == "150.00")
        let refreshed = try await control.call(InvoiceRefreshCall.self, .init(org: .test("acme"), demandId: "dem-fwd"))
        #expect(refreshed.qboId == qboID && refreshed.totalAmount?.description == "150.00")
        let customer = try await control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        #expect(customer.qboId != nil)
        #expect(try await Self.invoices(of: "dem-fwd", in: cluster) == 1, "one QuickBooks invoice for the demand")

        // The holder's protocol error comes back as it is.
        var otherDemand = SyncTests.demandInput(id: "dem-orphan")
        otherDemand.developmentId = "dev-unknown"
        let refusal = await #expect(throws: ControlClientError.self) {
            _ = try await control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: otherDemand))
        }
        #expect(refusal?.rpcError?.reason == "customer_not_synced", "\(String(describing: refusal))")

        // The other instance forwarded them and the holder carried them out, under one lease throughout.
        let since = cluster.daemons.indices.map { String(cluster.daemons[$0].log.dropFirst(logsBefore[$0])) }
        #expect(since[other].components(separatedBy: "control call forwarded to the instance holding its company").count - 1 == 5, "\(cluster.logs(lines: 40))")
        #expect(since[holder].components(separatedBy: "carried out a control call forwarded by another instance").count - 1 == 5, "\(cluster.logs(lines: 40))")
        #expect(!since[holder].contains("control call forwarded to the instance holding its company"), "the holder ran its own calls")
        try await TestStore.withPostgres(cluster.daemons[0]) { store in
            let lease = try await FailoverTests.leases(store).first { $0.realmID == realm }
            #expect(lease?.owner == held.owner && lease?.generation == held.generation, "one holder throughout: \(String(describing: lease))")
            let left = try await store.client.query("SELECT COUNT(*) FROM qb_forwarded_calls", logger: TestStore.logger)
            for try await count in left.decode(Int64.self) { #expect(count == 0, "every answered call was removed") }
        }
    }

    @Test func aCallForwardedToAHolderThatStopsIsCarriedOutByTheNextHolder() async throws {
        let cluster = try await Cluster.start(instances: 2, daemonEnvironment: FailoverTests.environment)
        defer { cluster.cleanUp() }
        let (realm, _) = try await FailoverTests.acmeWithAnInvoice(cluster)
        let (holder, held) = try await Self.holder(of: realm, in: cluster)
        let other = 1 - holder
        let control = try await cluster.daemons[other].connect()
        defer { Task { await control.close() } }

        // The holder hangs (SIGSTOP): the call waits for the takeover, then the other carries it out.
        let stopped = cluster.daemons[holder].pid
        kill(stopped, SIGSTOP)
        defer { kill(stopped, SIGCONT) }
        let started = ContinuousClock.now
        let created = try await control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(id: "dem-takeover")))
        let waited = ContinuousClock.now - started
        #expect(created.qboId != nil)
        #expect(waited < FailoverTests.takeoverBound + .seconds(10), "answered within the takeover (\(waited))")
        try await TestStore.withPostgres(cluster.daemons[0]) { store in
            let lease = try #require(try await FailoverTests.leases(store).first { $0.realmID == realm })
            #expect(lease.generation > held.generation && cluster.index(owning: lease.owner) == other, "the other took the company over: \(lease)")
        }
        // The stopped holder comes back: it never claimed the call, so nothing is made twice.
        kill(stopped, SIGCONT)
        let again = try await control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(id: "dem-takeover", amounts: ["99.00"])))
        #expect(again.qboId == created.qboId)
        #expect(try await Self.invoices(of: "dem-takeover", in: cluster) == 1, "one QuickBooks invoice for the demand")
    }
}
