import QBSyncCore
import Testing
@testable import QBSyncDaemon

/// The token refresh plan, on a clock the test moves by hand.
@Suite struct TokenRefreshStateMachineTests {
    typealias Plan = TokenRefreshStateMachine<ContinuousClock.Instant>
    let start = ContinuousClock.now
    func at(_ seconds: Int) -> ContinuousClock.Instant { start.advanced(by: .seconds(seconds)) }
    let acme = OrgID("acme")!, birch = OrgID("birch")!, cedar = OrgID("cedar")!

    @Test func orgsComeDueInOrderAndOnlyWhenDue() {
        var plan = Plan(maximumConcurrent: 8)
        plan.schedule(birch, at: at(20))
        plan.schedule(acme, at: at(10))
        #expect(plan.takeDue(now: at(5)).isEmpty)
        #expect(plan.nextWake(now: at(5), tick: .seconds(1)) == at(6), "wakes at least every tick")
        #expect(plan.nextWake(now: at(9), tick: .seconds(30)) == at(10), "or at the next due instant")
        #expect(plan.takeDue(now: at(10)) == [acme])
        #expect(plan.takeDue(now: at(25)) == [birch])
        #expect(plan.scheduled == 0)
    }

    @Test func aRescheduledOrRemovedOrgIsNotRefreshedAtItsOldTime() {
        var plan = Plan(maximumConcurrent: 8)
        plan.schedule(acme, at: at(10))
        plan.schedule(acme, at: at(50))
        plan.schedule(birch, at: at(10))
        plan.remove(birch)
        #expect(plan.takeDue(now: at(10)).isEmpty, "the stale entries are skipped")
        #expect(plan.takeDue(now: at(50)) == [acme])
    }

    @Test func noMoreThanTheLimitRunAtOnce() {
        var plan = Plan(maximumConcurrent: 2)
        for org in [acme, birch, cedar] { plan.schedule(org, at: at(1)) }
        #expect(plan.takeDue(now: at(1)).count == 2)
        #expect(plan.takeDue(now: at(2)).isEmpty, "both slots are busy")
        plan.finished()
        #expect(plan.takeDue(now: at(2)).count == 1)
        #expect(plan.running == 2)
    }

    @Test func aTokenIsRefreshedAMarginBeforeExpiryButNeverBeforeHalfItsLife() {
        #expect(Plan.refreshDelay(expiresIn: 3600, margin: 300, jitter: 0) == 3300)
        #expect(Plan.refreshDelay(expiresIn: 3600, margin: 300, jitter: 60) == 3240)
        #expect(Plan.refreshDelay(expiresIn: 600, margin: 900, jitter: 0) == 300, "a margin longer than the life is no loop")
        #expect(Plan.maximumJitter(margin: 300) == 60)
        #expect(Plan.maximumJitter(margin: 100) == 20)
    }

    @Test func afterARestartOverdueOrgsAreSpreadAndRetriesKeepTheirTime() {
        #expect(Plan.delayAfterRestart(expiresIn: 3600, retryIn: nil, margin: 300, jitter: 0, spread: 5, position: 0.5) == 3300)
        #expect(Plan.delayAfterRestart(expiresIn: 3600, retryIn: 42, margin: 300, jitter: 0, spread: 5, position: 0.5) == 42)
        #expect(Plan.delayAfterRestart(expiresIn: -10, retryIn: nil, margin: 300, jitter: 0, spread: 5, position: 0.5) == 2.5)
        #expect(Plan.restartSpread(orgs: 1000) == 5)
        #expect(Plan.restartSpread(orgs: 100_000) == 30)
    }

    @Test func failedRefreshesBackOffFrom30SecondsTo15Minutes() {
        #expect(Plan.cooldown(failures: 1, jitterFactor: 1) == 30)
        #expect(Plan.cooldown(failures: 2, jitterFactor: 1) == 60)
        #expect(Plan.cooldown(failures: 5, jitterFactor: 1) == 480)
        #expect(Plan.cooldown(failures: 6, jitterFactor: 1) == 900)
        #expect(Plan.cooldown(failures: 1000, jitterFactor: 1) == 900)
        #expect(Plan.cooldown(failures: 1, jitterFactor: 1.2) == 36)
    }
}
