import HeapModule
import QBSyncCore

/// When each org's access token is refreshed: one min-heap of due instants of an injected clock,
/// at most `maximumConcurrent` refreshes at a time, and the timing rules. Pure: no I/O, no
/// clock of its own; ``TokenScheduler`` carries it out.
struct TokenRefreshStateMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    struct Entry: Comparable, Sendable {
        var due: Instant
        var org: OrgID
        static func < (lhs: Entry, rhs: Entry) -> Bool { lhs.due < rhs.due }
    }

    let maximumConcurrent: Int
    private var heap = Heap<Entry>()
    /// The live due instant per org; heap entries that differ are stale and skipped when popped.
    private var due: [OrgID: Instant] = [:]
    private(set) var running = 0

    init(maximumConcurrent: Int) { self.maximumConcurrent = maximumConcurrent }

    var scheduled: Int { due.count }

    /// Refresh `org` at `instant` (replacing any earlier plan for it).
    mutating func schedule(_ org: OrgID, at instant: Instant) {
        due[org] = instant
        heap.insert(Entry(due: instant, org: org))
    }

    mutating func remove(_ org: OrgID) { due.removeValue(forKey: org) }

    /// The orgs due at `now`, as many as the concurrency limit allows; each is ``finished()`` later.
    mutating func takeDue(now: Instant) -> [OrgID] {
        var orgs: [OrgID] = []
        while running < maximumConcurrent, let top = heap.min, top.due <= now {
            _ = heap.popMin()
            guard due[top.org] == top.due else { continue }
            due.removeValue(forKey: top.org)
            running += 1
            orgs.append(top.org)
        }
        return orgs
    }

    /// A refresh taken by ``takeDue(now:)`` ended (whatever its outcome).
    mutating func finished() { running = max(0, running - 1) }

    /// When to wake next: the earliest due instant, but at least every `tick` (to take changes).
    func nextWake(now: Instant, tick: Duration) -> Instant {
        guard let next = heap.min?.due else { return now.advanced(by: tick) }
        return min(next, now.advanced(by: tick))
    }

    // MARK: Timing rules

    /// Seconds until the refresh of a token that expires in `expiresIn`: `margin` (less `jitter`)
    /// before expiry, but never before half its life, so a margin as long as the lifetime cannot
    /// become a refresh loop.
    static func refreshDelay(expiresIn: Double, margin: Double, jitter: Double) -> Double {
        max(expiresIn / 2, expiresIn - margin - jitter)
    }

    /// Jitter of up to a fifth of the margin, at most a minute: orgs connected together drift apart.
    static func maximumJitter(margin: Double) -> Double { min(60, margin / 5) }

    /// Seconds until a refresh after a restart: a pending retry keeps its time; an expiring token
    /// keeps its margin; an overdue one (the daemon was down) is spread over `spread` seconds by
    /// `position` (0...1), not refreshed in one burst.
    static func delayAfterRestart(expiresIn: Double, retryIn: Double?, margin: Double, jitter: Double, spread: Double, position: Double) -> Double {
        let delay = retryIn ?? (expiresIn - margin - jitter)
        return delay > 0 ? delay : max(spread, 0.001) * position
    }

    /// The spread for overdue orgs after a restart: 200 a second, at most 30 s.
    static func restartSpread(orgs: Int) -> Double { min(30, Double(orgs) / 200) }

    /// Back-off after failed refreshes: 30 s doubling to 15 min, times `jitterFactor` (0.8...1.2).
    static func cooldown(failures: Int, jitterFactor: Double) -> Double {
        min(900, 30 * Double(1 << min(max(0, failures - 1), 10))) * jitterFactor
    }
}
