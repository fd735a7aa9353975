@testable import QBSyncDaemon
import Testing

/// The wait for a forwarded call's answer: a ring before the wait is kept, a ring during it ends
/// it, and with no ring the wait ends at its interval (a lost announcement costs one poll).
@Suite struct AnswerBellsTests {
    @Test func aRingBeforeOrDuringTheWaitEndsItAndWithoutOneTheIntervalDoes() async {
        let bells = AnswerBells()
        bells.open("c1")
        bells.ring("c1")
        let clock = ContinuousClock()
        // Rung before: at once, however long the interval.
        var elapsed = await clock.measure { await bells.wait("c1", upTo: .seconds(600)) }
        #expect(elapsed < .seconds(60))
        // Rung during the wait.
        async let waited = clock.measure { await bells.wait("c1", upTo: .seconds(600)) }
        Task { bells.ring("c1") }
        elapsed = await waited
        #expect(elapsed < .seconds(60))
        // Not rung: the interval ends it.
        elapsed = await clock.measure { await bells.wait("c1", upTo: .milliseconds(50)) }
        #expect(elapsed >= .milliseconds(50))
        // Another instance's call, or one closed: nothing waits on it.
        bells.ring("elsewhere")
        bells.close("c1")
        elapsed = await clock.measure { await bells.wait("c1", upTo: .seconds(600)) }
        #expect(elapsed < .seconds(60))
    }
}
