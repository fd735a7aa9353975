import Testing
@testable import QBSyncDaemon

/// The extraction gives way to a busy intake, for at most its deferral (issue 17): pure, the
/// instant injected.
@Suite struct ExtractionPacingTests {
    let start = ContinuousClock.Instant.now

    @Test func anIdleIntakeIsExtractedAtOnce() {
        var pacing = ExtractionPacing(maximumDeferral: .milliseconds(500))
        #expect(pacing.decide(intakeBusy: false, now: start) == .run)
        #expect(pacing.decide(intakeBusy: false, now: start + .milliseconds(1)) == .run)
        #expect(pacing.waitingSince == nil)
    }

    @Test func aBusyIntakeDefersABatchUntilIdleOrItsDeferralAndNoLonger() {
        var pacing = ExtractionPacing(maximumDeferral: .milliseconds(500))
        // A burst: the batch waits, and waiting longer does not move its deadline.
        #expect(pacing.decide(intakeBusy: true, now: start) == .wait(until: start + .milliseconds(500)))
        #expect(pacing.decide(intakeBusy: true, now: start + .milliseconds(300)) == .wait(until: start + .milliseconds(500)))
        // Its deferral is up: it runs, though the burst goes on.
        #expect(pacing.decide(intakeBusy: true, now: start + .milliseconds(500)) == .run)
        // The next batch waits a whole deferral of its own.
        #expect(pacing.decide(intakeBusy: true, now: start + .milliseconds(600)) == .wait(until: start + .milliseconds(1100)))
        // The intake goes idle before that: it runs at once, and the one after starts afresh.
        #expect(pacing.decide(intakeBusy: false, now: start + .milliseconds(700)) == .run)
        #expect(pacing.decide(intakeBusy: true, now: start + .milliseconds(800)) == .wait(until: start + .milliseconds(1300)))
    }

    @Test func noDeferralNeverWaits() {
        var pacing = ExtractionPacing(maximumDeferral: .zero)
        #expect(pacing.decide(intakeBusy: true, now: start) == .run)
    }
}
