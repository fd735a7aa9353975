import QBSyncCore
import Synchronization
import Testing
@testable import QBOClient

/// The one retry policy, decided without I/O or time.
@Suite struct RetryPolicyTests {
    let policy = RetryPolicy.accounting

    @Test func anOutageIsTriedThreeTimesWithJitteredDoublingWaits() {
        let outage = QBOClientError.unavailable("QuickBooks answered 503")
        #expect(policy.decision(after: outage, attempt: 1, jitter: 1) == .retry(after: .milliseconds(250)))
        #expect(policy.decision(after: outage, attempt: 2, jitter: 1) == .retry(after: .milliseconds(500)))
        #expect(policy.decision(after: outage, attempt: 2, jitter: 0.5) == .retry(after: .milliseconds(250)))
        #expect(policy.decision(after: outage, attempt: 2, jitter: 1.5) == .retry(after: .milliseconds(750)))
        #expect(policy.decision(after: outage, attempt: 3, jitter: 1) == .fail, "three tries in all")
    }

    @Test func whatARetryCannotCureIsNeverRetried() {
        let fault = QBOFault(code: "6240", message: "Duplicate Name Exists Error", detail: "", type: "ValidationFault")
        for error in [QBOClientError.rejected(fault), .forbidden(fault), .unauthorized, .invalidGrant, .invalidClient, .overBudget(retryAfterSeconds: 3), .readQuotaExhausted(nil)] {
            #expect(policy.decision(after: error, attempt: 1, jitter: 1) == .fail, "\(error)")
        }
    }

    @Test func a429IsWaitedOutOnlyWhenItsWaitFitsTheCap() {
        #expect(policy.decision(after: .throttled(retryAfterSeconds: 1), attempt: 1, jitter: 1) == .fail, "the daemon's policy answers a 429 at once")
        var patient = policy
        patient.maximumThrottleWait = .seconds(5)
        #expect(patient.decision(after: .throttled(retryAfterSeconds: 5), attempt: 1, jitter: 1.4) == .retry(after: .seconds(5)), "Intuit's wait, not jittered")
        #expect(patient.decision(after: .throttled(retryAfterSeconds: 60), attempt: 1, jitter: 1) == .fail)
        #expect(patient.decision(after: .throttled(retryAfterSeconds: 1), attempt: 3, jitter: 1) == .fail)
    }

    @Test func theTokenEndpointIsTriedTwiceMoreSoon() {
        let lost = QBOClientError.unavailable("connection reset")
        #expect(RetryPolicy.tokenEndpoint.decision(after: lost, attempt: 1, jitter: 1) == .retry(after: .milliseconds(200)))
        #expect(RetryPolicy.tokenEndpoint.decision(after: lost, attempt: 2, jitter: 1) == .retry(after: .milliseconds(400)))
        #expect(RetryPolicy.tokenEndpoint.decision(after: lost, attempt: 3, jitter: 1) == .fail)
        #expect(RetryPolicy.tokenEndpoint.decision(after: .invalidGrant, attempt: 1, jitter: 1) == .fail)
    }

    @Test func runWaitsOnTheInjectedClockAndGivesUpWithTheLastError() async throws {
        let clock = TestClock()
        let tries = Mutex(0)
        await #expect(throws: QBOClientError.unavailable("503")) {
            try await RetryPolicy.tokenEndpoint.run(clock: clock.callClock) { () async throws(QBOClientError) -> Int in
                tries.withLock { $0 += 1 }
                throw .unavailable("503")
            }
        }
        #expect(tries.withLock { $0 } == 3)
        #expect(clock.slept == [.milliseconds(200), .milliseconds(400)])
    }
}
