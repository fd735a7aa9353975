/// Time and chance as Intuit calls see them: the instant, a wait, and the jitter's random factor.
/// Injected, so tests move time forward instead of waiting for it.
public struct CallClock: Sendable {
    public var now: @Sendable () -> ContinuousClock.Instant
    public var sleep: @Sendable (Duration) async throws -> Void
    public var random: @Sendable (ClosedRange<Double>) -> Double

    public init(
        now: @escaping @Sendable () -> ContinuousClock.Instant, sleep: @escaping @Sendable (Duration) async throws -> Void,
        random: @escaping @Sendable (ClosedRange<Double>) -> Double = { Double.random(in: $0) }
    ) {
        self.now = now
        self.sleep = sleep
        self.random = random
    }

    /// The real monotonic clock.
    public static let continuous = CallClock(now: { ContinuousClock.now }, sleep: { try await Task.sleep(for: $0) })
}
