import Foundation
import QBSyncCore
import Testing

/// How instances share the companies' work, beat by beat, on instants the test chooses: the plan
/// is run for each instance in turn against one shared table of leases, as the database would hold it.
@Suite struct LeasePlanTests {
    let rules = LeaseRules(duration: 90)
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    let companies: Set<String> = Set((1...6).map { "realm-\($0)" })

    /// The lease table after each instance in `order` carries out its plan at `now`, counting
    /// `alive` instances (by default those in `order`).
    func beat(_ table: [String: CompanyLease], order: [String], companies: Set<String>, now: Date, alive: Int? = nil) -> [String: CompanyLease] {
        var table = table
        let alive = alive ?? order.count
        for instance in order {
            let plan = rules.plan(instance: instance, instances: alive, companies: companies, stored: Array(table.values), now: now)
            for lease in plan.release { table[lease.realmID]?.expiresAt = now }
            for lease in plan.renew { table[lease.realmID]?.expiresAt = now.addingTimeInterval(rules.duration) }
            for realm in plan.take {
                let generation = (table[realm]?.generation ?? 0) + 1
                table[realm] = CompanyLease(realmID: realm, owner: instance, expiresAt: now.addingTimeInterval(rules.duration), generation: generation)
            }
        }
        return table
    }

    func counts(_ table: [String: CompanyLease], at now: Date) -> [String: Int] {
        Dictionary(grouping: table.values.filter { $0.expiresAt > now }, by: \.owner).mapValues(\.count)
    }

    @Test func aLoneInstanceTakesEveryCompanyAndRenewsThem() {
        let plan = rules.plan(instance: "a", instances: 1, companies: companies, stored: [], now: t0)
        #expect(plan.take == companies.sorted() && plan.renew.isEmpty && plan.release.isEmpty)
        let table = beat([:], order: ["a"], companies: companies, now: t0)
        let next = rules.plan(instance: "a", instances: 1, companies: companies, stored: Array(table.values), now: t0.addingTimeInterval(15))
        #expect(next.renew.count == 6 && next.take.isEmpty && next.release.isEmpty)
    }

    @Test func aSecondInstanceGetsItsShareOneLeaseABeatWithoutAnyCompanyBeingHeldTwice() {
        var table = beat([:], order: ["a"], companies: companies, now: t0)
        var now = t0
        for _ in 1...6 {
            now = now.addingTimeInterval(rules.renewInterval)
            table = beat(table, order: ["a", "b"], companies: companies, now: now)
            // Never two live holders of one company: the table has one row per company.
            #expect(table.count == 6)
        }
        #expect(counts(table, at: now) == ["a": 3, "b": 3])
        // A company that changed hands carries the next generation (its old holder's writes are fenced).
        #expect(table.values.filter { $0.owner == "b" }.allSatisfy { $0.generation == 2 })
    }

    @Test func aDeadInstancesCompaniesMoveOnceItsLeasesRunOut() {
        var table = beat([:], order: ["a", "b", "c"], companies: companies, now: t0)
        #expect(counts(table, at: t0) == ["a": 2, "b": 2, "c": 2])
        // c dies: a and b keep beating; c's leases run out at t0 + 90.
        var now = t0
        while now < t0.addingTimeInterval(rules.failoverBound) {
            now = now.addingTimeInterval(rules.renewInterval)
            table = beat(table, order: ["a", "b"], companies: companies, now: now)
        }
        #expect(counts(table, at: now) == ["a": 3, "b": 3], "within failoverBound (\(rules.failoverBound) s)")
    }

    /// c dies; a dies too, just before c's leases run out. b, counting a alive for a while, takes
    /// only its share of c's companies at first, and the rest once a is counted out: within two
    /// beats past the failover bound, not when a's own leases run out a lease length later.
    @Test func aDeadInstancesCompaniesMoveEvenWhenAnotherDiesJustAsTheyFree() {
        var seen: [String: Date] = [:]
        /// The table after `order` beat at `now`, counting instances as the registry does.
        func beat(_ table: [String: CompanyLease], order: [String], now: Date) -> [String: CompanyLease] {
            for instance in order { seen[instance] = now }
            let alive = seen.values.filter { $0 > now.addingTimeInterval(-rules.aliveWindow) }.count
            return self.beat(table, order: order, companies: companies, now: now, alive: alive)
        }
        var table = beat([:], order: ["a", "b", "c"], now: t0)
        #expect(counts(table, at: t0) == ["a": 2, "b": 2, "c": 2])
        let ofC = Set(table.values.filter { $0.owner == "c" }.map(\.realmID))
        // c dies after its beat at t0; a beats until one interval before c's leases run out, then dies.
        var now = t0
        while now < t0.addingTimeInterval(rules.duration - rules.renewInterval) {
            now = now.addingTimeInterval(rules.renewInterval)
            table = beat(table, order: ["a", "b"], now: now)
        }
        let bound = t0.addingTimeInterval(rules.failoverBound + 2 * rules.renewInterval)
        while now < bound {
            now = now.addingTimeInterval(rules.renewInterval)
            table = beat(table, order: ["b"], now: now)
        }
        let heldByB = Set(table.values.filter { $0.owner == "b" && $0.expiresAt > now }.map(\.realmID))
        #expect(ofC.isSubset(of: heldByB), "b holds every one of c's companies by \(now.timeIntervalSince(t0)) s: \(table.values.sorted { $0.realmID < $1.realmID })")
    }

    @Test func aDisconnectedCompanysLeaseIsGivenBack() {
        let table = beat([:], order: ["a"], companies: companies, now: t0)
        let fewer = companies.subtracting(["realm-2"])
        let plan = rules.plan(instance: "a", instances: 1, companies: fewer, stored: Array(table.values), now: t0.addingTimeInterval(15))
        #expect(plan.release.map(\.realmID) == ["realm-2"] && plan.renew.count == 5 && plan.take.isEmpty)
    }

    @Test func anotherLiveHoldersCompanyIsNeverTaken() {
        let held = CompanyLease(realmID: "realm-1", owner: "a", expiresAt: t0.addingTimeInterval(60), generation: 4)
        let plan = rules.plan(instance: "b", instances: 2, companies: ["realm-1"], stored: [held], now: t0)
        #expect(plan == LeasePlan())
    }
}
