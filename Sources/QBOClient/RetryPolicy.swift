/// When an Intuit call is tried again, and after how long: one policy for every caller.
///
/// A pure value: ``decision(after:attempt:jitter:)`` takes the random factor as an argument, so
/// the choices are tested without I/O or time. Only what a retry can cure is retried: a 5xx, a
/// timeout or a dropped connection (`unavailable`), and a 429 whose wait is short enough. A fault,
/// a refused grant or a spent read budget is never retried.
public struct RetryPolicy: Sendable, Equatable {
    /// Tries in all, the first included.
    public var attempts: Int
    /// The wait before the second try; it doubles for each later one.
    public var backoff: Duration
    /// Each wait is multiplied by a factor drawn from this range, so callers never retry in step.
    public var jitter: ClosedRange<Double>
    /// A 429 whose Retry-After is at most this is waited out and retried; a longer one (or any,
    /// at `.zero`) ends the call at once, and the company stays blocked for its wait.
    public var maximumThrottleWait: Duration

    public init(attempts: Int, backoff: Duration, jitter: ClosedRange<Double> = 1...1, maximumThrottleWait: Duration = .zero) {
        self.attempts = attempts
        self.backoff = backoff
        self.jitter = jitter
        self.maximumThrottleWait = maximumThrottleWait
    }

    /// Accounting API calls: 3 tries, 250 ms doubling, ±50 % jitter; a 429 is not waited out.
    public static let accounting = RetryPolicy(attempts: 3, backoff: .milliseconds(250), jitter: 0.5...1.5)
    /// The token endpoint: a lost answer may have been processed, and the same refresh token works
    /// again within its window, so a transport failure is tried twice more soon (200, 400 ms).
    public static let tokenEndpoint = RetryPolicy(attempts: 3, backoff: .milliseconds(200))

    /// What to do after `attempt` (1-based) failed with `error`.
    public enum Decision: Sendable, Equatable {
        case retry(after: Duration)
        case fail
    }

    /// `jitter` is the factor drawn from ``jitter`` (the caller draws it, so this stays pure).
    public func decision(after error: QBOClientError, attempt: Int, jitter factor: Double) -> Decision {
        guard attempt < attempts else { return .fail }
        switch error {
        case .unavailable:
            return .retry(after: backoff * (Double(1 << min(attempt - 1, 16)) * factor))
        case .throttled(let seconds):
            let wait = Duration.seconds(seconds)
            return wait <= maximumThrottleWait ? .retry(after: wait) : .fail
        default:
            return .fail
        }
    }

    /// Runs `body` under the policy: waits with `clock` between tries; `retrying` hears of each retry.
    public func run<T>(
        clock: CallClock, retrying: (QBOClientError, Int) -> Void = { _, _ in }, _ body: () async throws(QBOClientError) -> T
    ) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do throws(QBOClientError) {
                return try await body()
            } catch {
                guard case .retry(let wait) = decision(after: error, attempt: attempt, jitter: clock.random(jitter)) else { throw error }
                retrying(error, attempt)
                try await clock.sleep(wait)
            }
        }
    }
}
