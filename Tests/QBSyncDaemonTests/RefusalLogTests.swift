import Testing
@testable import QBSyncDaemon

/// L5: a connection's refusals reach the journal a few a minute, then one summary line.
@Suite struct RefusalLogTests {
    @Test func aFewAMinuteThenOneSummaryThenTheCount() {
        var budget = RefusalLogBudget()
        let start = ContinuousClock.now
        var verdicts: [RefusalLogBudget.Verdict] = []
        for second in 0..<1000 { verdicts.append(budget.record(at: start + .milliseconds(second))) }
        #expect(verdicts.prefix(RefusalLogBudget.perWindow).allSatisfy { $0 == .log(suppressed: 0) })
        #expect(verdicts[RefusalLogBudget.perWindow] == .summarize)
        #expect(verdicts.dropFirst(RefusalLogBudget.perWindow + 1).allSatisfy { $0 == .drop })
        // A minute on, logging resumes and says how many went unlogged.
        #expect(budget.record(at: start + .seconds(61)) == .log(suppressed: 1000 - RefusalLogBudget.perWindow))
        #expect(budget.record(at: start + .seconds(62)) == .log(suppressed: 0))
    }
}
