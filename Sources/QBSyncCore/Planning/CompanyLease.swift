public import Foundation

/// One instance's claim on the work of one QuickBooks company, when several instances share a
/// database (issue 18): who holds it, until when, and the generation that fences its writes.
public struct CompanyLease: Sendable, Equatable {
    public var realmID: String
    public var owner: String
    public var expiresAt: Date
    /// Bumped by every change of holder: a write that carries an older generation is refused.
    public var generation: Int64

    public init(realmID: String, owner: String, expiresAt: Date, generation: Int64) {
        self.realmID = realmID
        self.owner = owner
        self.expiresAt = expiresAt
        self.generation = generation
    }
}

/// The rules of company leases, pure: the database carries them out (a row per company taken
/// with `FOR UPDATE SKIP LOCKED`, renewed by heartbeat), these decide. The pattern is Convoy's
/// (a lease renewed six times per its length, the claim as a fencing token).
public struct LeaseRules: Sendable, Equatable {
    /// How long a lease lasts without renewal.
    public var duration: TimeInterval
    /// Leases are renewed this often (six times per duration: a slow beat or two never loses one).
    public var renewInterval: TimeInterval { duration / 6 }
    /// The latest a dead holder's company is taken over: its lease runs out, then the next look.
    /// (Should another instance die just as those leases run out, it is counted alive for up to
    /// ``aliveWindow`` more, and the survivors' shares are that much too small meanwhile.)
    public var failoverBound: TimeInterval { duration + renewInterval }
    /// An instance is counted alive while it has beaten within this window: two heartbeats. A dead
    /// one counted alive holds down every other instance's share (``LeaseRules/share(companies:instances:)``),
    /// so companies that lost their holder could wait for the count rather than for their leases;
    /// a live one counted out for a slow beat or two costs only an uneven share for as long.
    public var aliveWindow: TimeInterval { 2 * renewInterval }

    public init(duration: TimeInterval = 90) { self.duration = duration }

    public enum Decision: Sendable, Equatable {
        /// This instance holds the lease: renew it at this instant.
        case renew(at: Date)
        /// Free or expired: take it with this generation.
        case take(generation: Int64)
        /// Another live instance holds it: look again at this instant.
        case wait(until: Date)
    }

    /// What `instance` does about a company's lease at `now`.
    public func decide(instance: String, lease: CompanyLease?, now: Date) -> Decision {
        guard let lease else { return .take(generation: 1) }
        if lease.owner == instance, lease.expiresAt > now {
            return .renew(at: min(lease.expiresAt, lease.expiresAt.addingTimeInterval(-duration + renewInterval)))
        }
        if lease.expiresAt <= now { return .take(generation: lease.generation + 1) }
        return .wait(until: lease.expiresAt)
    }

    /// Whether a write of `instance`, fenced with `generation`, may commit against the stored lease:
    /// only its holder, within the lease, of the same generation. A holder that paused past its
    /// lease (a stopped process, a long GC) finds its writes refused, not interleaved.
    public func admits(instance: String, generation: Int64, stored: CompanyLease?, now: Date) -> Bool {
        guard let stored else { return false }
        return stored.owner == instance && stored.generation == generation && stored.expiresAt > now
    }

    /// Whether an instance holding `held` companies takes one more, so that work spreads over
    /// `instances` live instances (a restarted instance gets its share back as leases expire).
    public func takesMore(held: Int, companies: Int, instances: Int) -> Bool {
        held < share(companies: companies, instances: instances)
    }
}
