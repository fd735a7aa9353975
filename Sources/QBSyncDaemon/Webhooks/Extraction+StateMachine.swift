/// When the event extraction may take the store's writer (issue 17): pure, with the instant injected.
///
/// The extraction shares the one SQLite writer, and the CPU, with the intake's commits. Run after
/// every commit, it halved a burst's intake (measured: 3.8k against 11–12k deliveries/s without
/// it, `scripts/bench-webhooks.sh`), because each of its batches held the writer while deliveries
/// waited for their 200. So it runs while the intake is idle, which at ordinary rates is nearly
/// always (its events follow the 200 by a millisecond or so), and under a burst at least one of
/// its transactions per ``maximumDeferral``: the answers keep the writer, the events still move,
/// and the backlog is extracted in full once the burst ends (the deliveries are durable and
/// listed meanwhile). The pacing is asked before each of a batch's small transactions
/// (``WebhookIntake/expansionWriteChunk`` deliveries), so a commit never waits behind a whole batch.
struct ExtractionPacing: Sendable {
    /// The longest one of the extraction's transactions waits for an idle intake.
    var maximumDeferral: Duration
    /// Since when the batch under consideration has waited (nil: it is not waiting).
    private(set) var waitingSince: ContinuousClock.Instant?

    init(maximumDeferral: Duration = .milliseconds(500)) {
        self.maximumDeferral = maximumDeferral
    }

    enum Decision: Sendable, Equatable {
        /// Extract a batch now.
        case run
        /// Wait for the intake to go idle, at most until this instant.
        case wait(until: ContinuousClock.Instant)
    }

    /// Called before each batch, and again while waiting; `intakeBusy` is whether deliveries wait
    /// for a commit or one is under way.
    mutating func decide(intakeBusy: Bool, now: ContinuousClock.Instant) -> Decision {
        let since = waitingSince ?? now
        guard intakeBusy, now < since + maximumDeferral else {
            waitingSince = nil
            return .run
        }
        waitingSince = since
        return .wait(until: since + maximumDeferral)
    }
}
