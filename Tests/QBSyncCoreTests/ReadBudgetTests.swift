import Foundation
import Testing
import QBSyncCore

/// The read governor's decisions, with the clock passed in.
@Suite struct ReadBudgetTests {
    static let midMonth = try! Date("2026-11-16T00:00:00Z", strategy: .iso8601)

    func budget(_ total: Int, used: [ReadClass: Int] = [:]) -> ReadBudget {
        ReadBudget(budget: total, reservePercent: 5, month: "2026-11", used: used)
    }

    @Test func sweepsAreShedFirstThenEventsAndOperatorsUseTheReserveLast() {
        // 1,000 reads: the reserve is 50; events stop at 950, sweeps at 900.
        var budget = budget(1000, used: [.event: 899])
        #expect(budget.take(.sweep, now: Self.midMonth) == .granted)
        #expect(budget.take(.sweep, now: Self.midMonth) != .granted, "sweeps stop at 900")
        for _ in 0..<50 { #expect(budget.take(.event, now: Self.midMonth) == .granted) }
        guard case .refused(let refusal) = budget.take(.event, now: Self.midMonth) else { Issue.record("events stop at 950"); return }
        #expect(refusal.used == 950)
        #expect(refusal.budget == 1000)
        #expect(refusal.month == "2026-11")
        #expect(refusal.resetsAt == (try! Date("2026-12-01T00:00:00Z", strategy: .iso8601)))
        for _ in 0..<50 { #expect(budget.take(.operator, now: Self.midMonth) == .granted) }
        #expect(budget.take(.operator, now: Self.midMonth) != .granted, "nothing past the budget")
        #expect(budget.total == 1000)
    }

    @Test func otherInstancesReadsCountAgainstTheSameBudget() {
        // This instance counted 400 event reads; the store holds 850 from every instance (its own
        // 390 committed so far among them) and 60 sweeps.
        var budget = budget(1000, used: [.event: 400])
        budget.merge(stored: self.budget(1000, used: [.event: 850, .sweep: 60]))
        #expect(budget.total == 910)
        #expect(budget.take(.sweep, now: Self.midMonth) != .granted, "sweeps stop at 900, counting every instance's reads")
        // A count behind this instance's own (its latest not committed yet) lowers nothing.
        budget.merge(stored: self.budget(1000, used: [.event: 10]))
        #expect(budget.total == 910)
        // Another month's counts are not mixed in; Intuit's refusal seen by another instance is.
        budget.merge(stored: ReadBudget(budget: 1000, reservePercent: 5, month: "2026-10", used: [.event: 999]))
        #expect(budget.total == 910)
        budget.merge(stored: ReadBudget(budget: 1000, reservePercent: 5, month: "2026-11", refusedByIntuit: true))
        #expect(!budget.allows(.operator))
    }

    @Test func aNewMonthStartsAgainAndAnIntuitRefusalSpendsTheMonth() {
        var budget = budget(1000, used: [.event: 1000])
        #expect(!budget.allows(.operator))
        #expect(budget.take(.sweep, now: try! Date("2026-12-01T00:00:01Z", strategy: .iso8601)) == .granted)
        #expect(budget.month == "2026-12")
        #expect(budget.total == 1)
        budget.intuitRefused(now: try! Date("2026-12-02T00:00:00Z", strategy: .iso8601))
        #expect(!budget.allows(.operator), "Intuit said no: nothing more this month, whatever we counted")
        #expect(budget.state(now: try! Date("2026-12-02T00:00:00Z", strategy: .iso8601)) == .exhausted)
        #expect(budget.take(.operator, now: try! Date("2027-01-01T00:00:00Z", strategy: .iso8601)) == .granted)
    }

    @Test func statesFollowUseAndTheMonthEndForecast() {
        // Half-way through November (30 days): 100 used forecasts 200.
        #expect(budget(1000, used: [.event: 100]).forecast(now: Self.midMonth) == 200)
        #expect(budget(1000, used: [.event: 100]).state(now: Self.midMonth) == .ok)
        // 600 used half-way forecasts 1,200: over the budget is a warning before 80 % is reached.
        #expect(budget(1000, used: [.event: 600]).state(now: Self.midMonth) == .warning)
        let late = try! Date("2026-11-30T12:00:00Z", strategy: .iso8601)
        #expect(budget(1000, used: [.event: 800]).state(now: late) == .warning)
        #expect(budget(1000, used: [.event: 950]).state(now: late) == .critical)
        #expect(budget(1000, used: [.event: 1000]).state(now: late) == .exhausted)
        // The first hours of a month do not extrapolate wildly.
        let early = try! Date("2026-11-01T00:10:00Z", strategy: .iso8601)
        #expect(budget(1000, used: [.event: 5]).forecast(now: early) == 5 * 120)
    }

    @Test func noBudgetRefusesNothing() {
        var budget = budget(0, used: [.sweep: 10_000_000])
        #expect(budget.take(.sweep, now: Self.midMonth) == .granted)
        #expect(budget.state(now: Self.midMonth) == .ok)
    }
}

/// When companies are swept, within the budget.
@Suite struct SweepPlanTests {
    static let start = try! Date("2026-11-01T06:00:00Z", strategy: .iso8601)

    @Test func aDailySweepFitsTenThousandCompaniesAndStretchesAtTwenty() {
        // A quarter-day into the month, 10,000 companies each made 0.53 event reads a day.
        let elapsed = 0.25
        func plan(_ companies: Int) -> SweepPlan {
            let budget = ReadBudget(budget: 500_000, reservePercent: 5, month: "2026-11", used: [.event: Int(Double(companies) * 0.533 * elapsed)])
            return SweepPlan.fit(basePeriod: 86_400, companies: companies, budget: budget, now: Self.start)
        }
        let ten = plan(10_000)
        #expect(ten.period == 86_400, "no stretch at 10,000: \(ten)")
        let twenty = plan(20_000)
        #expect(twenty.period > 86_400 * 1.2, "catch-up stretches first at 20,000: \(twenty)")
        #expect(twenty.period.isFinite)
        #expect(Double(twenty.plannedSweeps) <= Double(twenty.allowance) * 1.0001)
    }

    @Test func sweepsStopWhenTheBudgetLeavesThemNothing() {
        let budget = ReadBudget(budget: 1000, reservePercent: 5, month: "2026-11", used: [.event: 900])
        let plan = SweepPlan.fit(basePeriod: 86_400, companies: 10, budget: budget, now: try! Date("2026-11-20T00:00:00Z", strategy: .iso8601))
        #expect(!plan.period.isFinite)
        #expect(plan.dueAt(.init(realmID: "1", lastReadAt: Self.start, suspectedLoss: false), firstSeen: Self.start) == .distantFuture)
    }

    @Test func aSweepComesAWholePeriodAfterAnyReadAndSoonerAfterASuspectedLoss() {
        let plan = SweepPlan(basePeriod: 86_400, period: 86_400, plannedSweeps: 0, allowance: 0)
        let read = Self.start
        #expect(plan.dueAt(.init(realmID: "1", lastReadAt: read, suspectedLoss: false), firstSeen: read) == read.addingTimeInterval(86_400))
        #expect(plan.dueAt(.init(realmID: "1", lastReadAt: read, suspectedLoss: true), firstSeen: read) == read.addingTimeInterval(21_600))
        // Never read: spread over the first hour, the same way after a restart.
        let first = plan.dueAt(.init(realmID: "9130354335", lastReadAt: nil, suspectedLoss: false), firstSeen: read)
        #expect(first >= read && first < read.addingTimeInterval(3600))
        #expect(first == plan.dueAt(.init(realmID: "9130354335", lastReadAt: nil, suspectedLoss: false), firstSeen: read))
    }

    @Test func expectedSweepsFollowTheEventRate() {
        #expect(SweepPlan.sweepsPerDay(eventRate: 0, periodDays: 1) == 1)
        // Busy companies are read by their events and rarely need a sweep.
        #expect(SweepPlan.sweepsPerDay(eventRate: 10, periodDays: 1) < 0.001)
        let rate = SweepPlan.sweepsPerDay(eventRate: 16.0 / 30, periodDays: 1)
        #expect(rate > 0.7 && rate < 0.8)
    }
}
