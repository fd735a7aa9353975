import Crypto
import Foundation
import Logging
import PostgresNIO
import QBControlClient
import QBSyncCore
import QBSyncStorePostgres
import QBTestSupport
import Testing

/// Several real `qbsyncd` instances on one PostgreSQL schema (issue 18, items 4 and 5): the
/// company lease of a `kill -9`ed holder moves to the survivor within lease + heartbeat, the
/// survivor then refreshes the company's token and settles its webhooks, no acknowledged delivery
/// is lost or doubled, and a restarted instance gets its share back without a company ever having
/// two holders. Leases of 6 s (a heartbeat a second), so a takeover is due within 7 s.
@Suite(
    .enabled(if: Cluster.isAvailable, "several instances share a store only on PostgreSQL (QBSYNCD_TEST_BACKEND=postgres)"),
    .serialized, .timeLimit(.minutes(3))
)
struct FailoverTests {
    static let leaseSeconds = 6
    static let heartbeatSeconds = 1
    /// For scheduling on two shared cores, process start-up and the poll interval.
    static let slackSeconds = 5
    static var takeoverBound: Duration { .seconds(leaseSeconds + heartbeatSeconds + slackSeconds) }
    static let environment = ["QBSYNCD_LEASE_SECONDS": String(leaseSeconds)]

    // MARK: The lease table, read behind the daemons' backs

    struct Lease: Sendable, Equatable, CustomStringConvertible {
        var realmID: String
        var owner: String
        var expiresAt: Int64
        var generation: Int64
        var acquiredAt: Int64
        var live: Bool { expiresAt > Int64(Date().timeIntervalSince1970 * 1000) }
        var description: String { "\(realmID)→\(owner) gen \(generation) expires \(expiresAt)\(live ? "" : " (expired)")" }
    }

    static func leases(_ store: PostgresStore) async throws -> [Lease] {
        var leases: [Lease] = []
        let rows = try await store.client.query(
            "SELECT realm_id, owner, expires_at, generation, acquired_at FROM qb_company_leases ORDER BY realm_id", logger: TestStore.logger
        )
        for try await (realm, owner, expires, generation, acquired) in rows.decode((String, String, Int64, Int64, Int64).self) {
            leases.append(Lease(realmID: realm, owner: owner, expiresAt: expires, generation: generation, acquiredAt: acquired))
        }
        return leases
    }

    /// Every delivery in the log by the SHA-256 of its body (hex), with how many events each has.
    static func deliveries(_ store: PostgresStore) async throws -> [(sha: String, events: Int)] {
        var found: [(String, Int)] = []
        let rows = try await store.client.query(
            """
            SELECT encode(sha256(d.body), 'hex'), (SELECT COUNT(*) FROM qb_webhook_events e WHERE e.delivery_id = d.id)
            FROM qb_webhook_deliveries d
            """,
            logger: TestStore.logger
        )
        for try await (sha, events) in rows.decode((String, Int64).self) { found.append((sha, Int(events))) }
        return found
    }

    /// Watches the lease table across polls: a realm's generation never falls, and a change of
    /// holder always raises it (the fence of the old holder's late writes).
    final class LeaseWatch: @unchecked Sendable {
        private var last: [String: Lease] = [:]
        private(set) var violations: [String] = []
        private(set) var observations = 0

        func observe(_ leases: [Lease]) {
            observations += 1
            if Set(leases.map(\.realmID)).count != leases.count { violations.append("a realm with two rows: \(leases)") }
            for lease in leases {
                if let before = last[lease.realmID] {
                    if lease.generation < before.generation { violations.append("generation fell: \(before) then \(lease)") }
                    if lease.owner != before.owner, lease.generation <= before.generation {
                        violations.append("holder changed without a new generation: \(before) then \(lease)")
                    }
                }
                last[lease.realmID] = lease
            }
        }
    }

    // MARK: Helpers

    static func sign(_ body: String) -> String { WebhookTests.sign(body) }
    static func sha(_ body: String) -> String { SHA256.hash(data: Data(body.utf8)).map { String(format: "%02x", $0) }.joined() }

    static func listener(_ daemon: DaemonProcess) async throws -> SimClient {
        let control = try await daemon.connect()
        let listen = try await control.call(DaemonStatusCall.self).webhook.listen
        await control.close()
        return SimClient(base: "http://\(listen)")
    }

    /// A classic delivery about an invoice qbsyncd never pushed, in `realmID` (its holder ignores it,
    /// with the reason): unique by `tag`.
    static func delivery(realmID: String, tag: String) -> String {
        #"{"eventNotifications":[{"realmId":"\#(realmID)","dataChangeEvent":{"entities":[{"name":"Invoice","id":"\#(tag)","operation":"Update","lastUpdated":"2026-11-25T10:00:00.000Z"}]}}]}"#
    }

    /// Posts the signed body; answers whether it was acknowledged (200).
    static func post(_ body: String, to hook: SimClient) async throws -> Bool {
        try await hook.send(.POST, "/api/webhooks/quickbooks", headers: [("intuit-signature", sign(body)), ("Content-Type", "application/json")], body: Data(body.utf8)).status == 200
    }

    /// Connects acme through the first instance and pushes its customer and one invoice; answers
    /// the company and the invoice's QuickBooks id.
    static func acmeWithAnInvoice(_ cluster: Cluster) async throws -> (realm: String, qboID: String) {
        let pairA = try await cluster.pair(0)
        _ = try await pairA.connect("acme")
        _ = try await pairA.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        let invoice = try await pairA.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput()))
        await pairA.control.close()
        return (cluster.sim.defaultRealmID, try #require(invoice.qboId))
    }

    /// The pid in an owner name (`host:pid:random`).
    static func pid(of owner: String) -> Int32? {
        let parts = owner.split(separator: ":")
        return parts.count >= 3 ? Int32(parts[parts.count - 2]) : nil
    }

    // MARK: Tests

    @Test func theSurvivorTakesOverAKilledHoldersCompanyRefreshesItsTokenAndSettlesItsWebhooks() async throws {
        let cluster = try await Cluster.start(instances: 2, daemonEnvironment: Self.environment)
        defer { cluster.cleanUp() }
        // An invoice qbsyncd pushed, so that a payment in QuickBooks is the survivor's work to settle.
        let (realm, qboID) = try await Self.acmeWithAnInvoice(cluster)
        let hooks = [try await Self.listener(cluster.daemons[0]), try await Self.listener(cluster.daemons[1])]

        try await TestStore.withPostgres(cluster.daemons[0]) { store in
            let watch = LeaseWatch()
            // One instance takes the company within a heartbeat or two.
            let held = try await cluster.eventually(timeout: Self.takeoverBound, "one instance holding \(realm)") { () -> Lease? in
                let leases = try await Self.leases(store)
                watch.observe(leases)
                return leases.first { $0.realmID == realm && $0.live }
            }
            let holderIndex = try #require(cluster.index(owning: held.owner), "the owner \(held.owner) is one of the cluster's pids")
            let survivorIndex = 1 - holderIndex
            let holder = cluster.daemons[holderIndex]
            let survivor = cluster.daemons[survivorIndex]

            // Deliveries acknowledged by both instances just before the kill; the holder has had no
            // time to settle all of its own.
            var acknowledged: [String] = []
            for index in 0..<5 {
                for (instance, hook) in hooks.enumerated() {
                    let body = Self.delivery(realmID: realm, tag: "before-\(instance)-\(index)")
                    if try await Self.post(body, to: hook) { acknowledged.append(body) }
                }
            }
            #expect(acknowledged.count == 10)

            let killedAt = Date()
            let killed = ContinuousClock.now
            holder.signal(SIGKILL)
            #expect(try await holder.waitForExit() == 128 + SIGKILL)

            // The survivor acknowledges deliveries for the company while nobody holds it.
            for index in 0..<5 {
                let body = Self.delivery(realmID: realm, tag: "orphan-\(index)")
                if try await Self.post(body, to: hooks[survivorIndex]) { acknowledged.append(body) }
            }

            // The takeover: the survivor, a new generation, only once the dead holder's lease ran out.
            var lastHeld = held
            let taken = try await cluster.eventually(timeout: Self.takeoverBound, "the survivor taking \(realm) over") { () -> Lease? in
                let leases = try await Self.leases(store)
                watch.observe(leases)
                guard let lease = leases.first(where: { $0.realmID == realm }) else { return nil }
                if lease.owner == held.owner { lastHeld = lease }
                return lease.owner != held.owner && lease.live ? lease : nil
            }
            let takeover = ContinuousClock.now - killed
            #expect(Self.pid(of: taken.owner) == survivor.pid, "\(taken)")
            #expect(taken.generation == lastHeld.generation + 1, "\(lastHeld) then \(taken)")
            #expect(taken.acquiredAt >= lastHeld.expiresAt, "taken before the dead holder's lease ran out: \(lastHeld) then \(taken)")
            #expect(takeover <= Self.takeoverBound, "took \(takeover)")

            // It refreshes the company's grant (a takeover refreshes it whatever its expiry).
            let control = try await survivor.connect()
            // Recorded, not thrown: the webhooks below are checked either way.
            do {
                let refreshed = try await cluster.eventually(timeout: .seconds(15), "the survivor refreshing acme's token after the takeover") { () -> Date? in
                    let info = try await control.call(OrgShowCall.self, .init(org: .test("acme")))
                    guard let last = info.lastRefreshAt, last > killedAt else { return nil }
                    return last
                }
                #expect(refreshed.timeIntervalSince(killedAt) <= Double(Self.leaseSeconds + Self.heartbeatSeconds + Self.slackSeconds) + 5, "refreshed at \(refreshed), killed at \(killedAt)")
            } catch {
                Issue.record(error)
            }
            #expect(try await control.call(OrgShowCall.self, .init(org: .test("acme"))).status == .connected)

            // A payment in QuickBooks, its webhook signed by the simulator and delivered to the survivor.
            _ = try await cluster.http.post("/sim/webhooks/config", json: ["url": .string(hooks[survivorIndex].base + "/api/webhooks/quickbooks"), "format": "cloudevents"])
            _ = try await cluster.http.post("/sim/companies/\(realm)/invoices/\(qboID)/pay", json: [:])
            _ = try await cluster.http.post("/sim/webhooks/flush", json: [:])
            for index in 0..<5 {
                let body = Self.delivery(realmID: realm, tag: "after-\(index)")
                if try await Self.post(body, to: hooks[survivorIndex]) { acknowledged.append(body) }
            }
            #expect(acknowledged.count == 20)

            // Every event of the company settles on the survivor: the dead holder's leftovers, those it
            // acknowledged while the company had no holder, and the payment (processed: the invoice is paid).
            let events = try await cluster.eventually(timeout: .seconds(30), "every event of acme settled on the survivor") { () -> [JSONValue]? in
                let events = try await control.call(EventListCall.self, .init(org: .test("acme"), limit: 500)).events
                guard events.count >= 20, !events.contains(where: { $0["status"] == "pending" }) else { return nil }
                return events.contains { $0["status"] == "processed" } ? events : nil
            }
            #expect(!events.contains { $0["status"] == "failed" }, "\(events)")
            _ = try await cluster.eventually(timeout: .seconds(15), "the invoice paid") { () -> Bool? in
                try await control.call(EntityListCall.self, .init(org: .test("acme"), kind: .demand)).entities.first?.status == .paid ? true : nil
            }
            await control.close()

            // Every acknowledged delivery is in the log exactly once, with its event.
            let logged = try await Self.deliveries(store)
            for body in acknowledged {
                let copies = logged.filter { $0.sha == Self.sha(body) }
                #expect(copies.count == 1, "\(body): \(copies.count) copies")
                #expect(copies.first?.events == 1, "\(body)")
            }
            #expect(watch.violations.isEmpty, "\(watch.violations)")
        }
    }

    @Test func aRestartedInstanceGetsItsShareBackWithoutACompanyHavingTwoHolders() async throws {
        let cluster = try await Cluster.start(instances: 2, daemonEnvironment: Self.environment)
        defer { cluster.cleanUp() }
        let pairA = try await cluster.pair(0)
        var created = [cluster.sim.defaultRealmID]
        for _ in 0..<3 { created.append(try await pairA.newCompany()) }
        let realms = created
        for (index, realm) in realms.enumerated() {
            _ = try await pairA.connect("org-\(index)", realmID: realm)
        }
        await pairA.control.close()

        try await TestStore.withPostgres(cluster.daemons[0]) { store in
            let watch = LeaseWatch()
            /// The live leases per pid, once every realm has one.
            func split() async throws -> [Int32: Int]? {
                let leases = try await Self.leases(store)
                watch.observe(leases)
                let live = leases.filter { $0.live && realms.contains($0.realmID) }
                guard Set(live.map(\.realmID)).count == realms.count else { return nil }
                return Dictionary(grouping: live, by: { Self.pid(of: $0.owner) ?? -1 }).mapValues(\.count)
            }
            let pids = { cluster.daemons.map(\.pid) }
            let even = { (split: [Int32: Int]) in split.count == 2 && pids().allSatisfy { split[$0] == 2 } }

            // Four companies over two instances: two each, within a few heartbeats.
            _ = try await cluster.eventually(timeout: .seconds(20), "two companies on each instance") { () -> [Int32: Int]? in
                guard let split = try await split(), even(split) else { return nil }
                return split
            }

            // kill -9 of one: the other holds all four once the dead one's leases run out.
            let victim = cluster.daemons[1]
            let survivor = cluster.daemons[0]
            victim.signal(SIGKILL)
            #expect(try await victim.waitForExit() == 128 + SIGKILL)
            _ = try await cluster.eventually(timeout: .seconds(2 * Self.leaseSeconds + Self.heartbeatSeconds + Self.slackSeconds), "the survivor holding all four") {
                () -> [Int32: Int]? in
                guard let split = try await split(), split == [survivor.pid: 4] else { return nil }
                return split
            }

            // Restarted on the same schema (a new instance name): it gets two back, one lease a beat,
            // and no company is ever without a fence between its holders.
            try await victim.start()
            _ = try await cluster.eventually(timeout: .seconds(30), "two companies on each instance after the restart") { () -> [Int32: Int]? in
                guard let split = try await split(), even(split) else { return nil }
                return split
            }
            // It stays split: a few more beats change no holder.
            let settled = try await Self.leases(store)
            let stable = ContinuousClock.now + .seconds(3 * Self.heartbeatSeconds)
            _ = try await cluster.eventually(timeout: .seconds(10), "the split staying put") { () -> Bool? in
                let leases = try await Self.leases(store)
                watch.observe(leases)
                #expect(leases.map(\.owner) == settled.map(\.owner), "holders changed after the split: \(settled) then \(leases)")
                return ContinuousClock.now >= stable ? true : nil
            }
            #expect(watch.violations.isEmpty, "\(watch.violations)")
            #expect(watch.observations > 10)
        }
    }
}
