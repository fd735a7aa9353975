import Foundation
import QBSyncCore
import Testing

/// The lease rules for several instances on one database, on instants the test chooses.
@Suite struct CompanyLeaseTests {
    let rules = LeaseRules(duration: 90)
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    func at(_ seconds: TimeInterval) -> Date { t0.addingTimeInterval(seconds) }
    func lease(_ owner: String, until seconds: TimeInterval, generation: Int64 = 3) -> CompanyLease {
        CompanyLease(realmID: "4620816365000000000", owner: owner, expiresAt: at(seconds), generation: generation)
    }

    @Test func aFreeCompanyIsTakenAndAHeldOneRenewedSixTimesPerLease() {
        #expect(rules.renewInterval == 15)
        #expect(rules.decide(instance: "a", lease: nil, now: t0) == .take(generation: 1))
        // Taken at t0 for 90 s: renewed 15 s later.
        #expect(rules.decide(instance: "a", lease: lease("a", until: 90), now: at(1)) == .renew(at: at(15)))
    }

    @Test func anotherLiveHoldersCompanyWaitsAndADeadOnesIsTakenWithTheNextGeneration() {
        #expect(rules.decide(instance: "b", lease: lease("a", until: 90), now: at(30)) == .wait(until: at(90)))
        #expect(rules.decide(instance: "b", lease: lease("a", until: 90), now: at(90)) == .take(generation: 4))
        #expect(rules.decide(instance: "a", lease: lease("a", until: 90), now: at(91)) == .take(generation: 4), "its own expired lease is taken anew, fenced again")
        #expect(rules.failoverBound == 105, "a dead holder's company moves within 105 s")
    }

    @Test func onlyTheCurrentHolderOfTheCurrentGenerationMayWrite() {
        let stored = lease("b", until: 200, generation: 4)
        #expect(rules.admits(instance: "b", generation: 4, stored: stored, now: at(100)))
        #expect(!rules.admits(instance: "a", generation: 3, stored: stored, now: at(100)), "the old holder, back from a pause, is fenced off")
        #expect(!rules.admits(instance: "b", generation: 3, stored: stored, now: at(100)))
        #expect(!rules.admits(instance: "b", generation: 4, stored: stored, now: at(200)), "not past its lease")
        #expect(!rules.admits(instance: "b", generation: 4, stored: nil, now: at(100)))
    }

    @Test func workSpreadsOverTheLiveInstances() {
        #expect(rules.takesMore(held: 0, companies: 10, instances: 3))
        #expect(rules.takesMore(held: 3, companies: 10, instances: 3))
        #expect(!rules.takesMore(held: 4, companies: 10, instances: 3))
        #expect(rules.takesMore(held: 9, companies: 10, instances: 1))
        #expect(!rules.takesMore(held: 10, companies: 10, instances: 0), "no live instance counted is one")
    }
}
