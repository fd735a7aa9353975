import Foundation
import Logging
import QBSyncCore
import QBSyncStore
import ServiceLifecycle
import Synchronization

/// The heartbeat of an instance among several (issue 18): every ``LeaseRules/renewInterval`` it
/// says it is alive, renews its leases, takes its share of the companies without a live holder
/// and gives back what it holds beyond its share (``LeaseRules/plan(instance:instances:companies:stored:now:)``
/// decides). What it holds is published in ``CompanyLeases``; companies newly held are handed to
/// `taken` (their pending events and due refreshes start). On a graceful stop it releases every
/// lease, so the others take them at their next beat instead of after the lease runs out.
final class LeaseKeeper: Service, Sendable {
    let table: any LeaseTable
    let leases: CompanyLeases
    let rules: LeaseRules
    /// Companies newly held: the realm ids, and those of them taken over from another instance (a
    /// generation above 1, after this instance's first beat: what the first beat takes, a previous
    /// process held, and the schedule this one just loaded from the store covers it).
    let taken: @Sendable (_ realms: [String], _ takenOver: [String]) -> Void
    /// After each beat, with every company held: events another instance stored for them are
    /// looked for (the wake-up of last resort, one heartbeat late at most).
    let onBeat: @Sendable (Set<String>) async -> Void
    let logger: Logger
    /// The monotonic clock a beat's duration is measured on.
    let clock: @Sendable () -> ContinuousClock.Instant

    init(
        table: any LeaseTable, leases: CompanyLeases, rules: LeaseRules, logger: Logger, clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now },
        onBeat: @escaping @Sendable (Set<String>) async -> Void = { _ in }, taken: @escaping @Sendable (_ realms: [String], _ takenOver: [String]) -> Void
    ) {
        self.clock = clock
        self.onBeat = onBeat
        self.table = table
        self.leases = leases
        self.rules = rules
        self.logger = logger
        self.taken = taken
    }

    /// Whether a beat has taken companies yet (the first one's are not takeovers to refresh).
    private let beaten = Mutex(false)

    /// The soonest a nudge brings the next beat after the last one.
    static let nudgeSpacing: Duration = .seconds(1)
    /// A nudge not yet taken, or the wait for one (a continuation, not a stream: the wait is
    /// cancelled whenever the interval ends first, and a cancelled stream iteration ends the stream).
    private let nudges = Mutex<(pending: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    /// Asks for a beat soon (at most one a ``nudgeSpacing``): work arrived for a company no one here holds.
    func nudge() {
        let waiter = nudges.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns at the next nudge (at once for one already pending), or when cancelled.
    private func nextNudge() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = nudges.withLock { state -> Bool in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = nudges.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }

    func run() async throws {
        leases.onMiss { [weak self] in self?.nudge() }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.beatLogged(now: Date())
                await self.waitForNextBeat()
            }
        }
        await releaseAll(now: Date())
    }

    /// Until a heartbeat interval has passed, or sooner when nudged (then after ``nudgeSpacing``).
    private func waitForNextBeat() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: .seconds(self.rules.renewInterval)) }  // try?: cancelled means stopping
            group.addTask {
                await self.nextNudge()
                try? await Task.sleep(for: Self.nudgeSpacing)  // try?: cancelled means stopping
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// One beat whose failure is logged, not thrown (the daemon's first, before its services start, too).
    func beatLogged(now: Date) async {
        let started = clock()
        defer {
            // A beat slower than its interval brings every lease held nearer to running out, and
            // delays the takeover of a dead instance's companies: worth an operator's look.
            let took = clock() - started
            if took > .seconds(rules.renewInterval) {
                logger.warning(
                    "a company lease heartbeat took longer than its interval",
                    metadata: [LogKey.beatMillis: "\(took.wholeMilliseconds)"]
                )
            }
        }
        do {
            try await beat(now: now)
        } catch {
            // The database is unreachable: what is held runs out by itself (the fence refuses late
            // writes), and the next beat tries again.
            logger.warning("company leases could not be renewed", metadata: [LogKey.error: "\(error)"])
            leases.replace(with: leases.current.values.filter { $0.expiresAt > now })
        }
    }

    /// One heartbeat at `now`.
    func beat(now: Date) async throws {
        let instance = leases.instance
        let first = beaten.withLock { beaten in defer { beaten = true }; return !beaten }
        let alive = try await table.beat(instance: instance, now: now)
        let companies = try await table.companies()
        let plan = rules.plan(instance: instance, instances: alive, companies: companies, stored: try await table.leases(), now: now)
        // A lease to give back whose company still has work running is kept (and renewed) until it
        // has ended; it starts no new work meanwhile.
        let release = leases.beginRelease(plan.release)
        for lease in release.now {
            try await table.release(lease, now: now)
        }
        var kept: [CompanyLease] = []
        for lease in plan.renew + release.later {
            if let renewed = try await table.renew(lease, now: now) { kept.append(renewed) }
        }
        for realmID in plan.take {
            if let lease = try await table.acquire(realmID: realmID, instance: instance, now: now) { kept.append(lease) }
        }
        let new = leases.replace(with: kept)
        if !release.now.isEmpty || !new.isEmpty {
            logger.info(
                "company leases changed",
                metadata: [LogKey.held: "\(kept.count)", LogKey.taken: "\(new.count)", LogKey.released: "\(release.now.count)", LogKey.instances: "\(alive)"]
            )
        }
        if !new.isEmpty {
            let byRealm = Dictionary(kept.map { ($0.realmID, $0) }, uniquingKeysWith: { $1 })
            taken(new, first ? [] : new.filter { (byRealm[$0]?.generation ?? 1) > 1 })
        }
        await onBeat(Set(kept.map(\.realmID)))
    }

    /// Gives every lease back and leaves the registry (a graceful stop). Every lease the table says
    /// this instance holds goes back, including any a beat cancelled by the stop took but never
    /// recorded here: left to run out, those companies would wait a lease length for a holder.
    func releaseAll(now: Date) async {
        leases.replace(with: [])
        do {
            try await table.leave(instance: leases.instance, now: now)
        } catch {
            logger.warning("company leases could not be released; they run out by themselves", metadata: [LogKey.error: "\(error)"])
        }
    }
}
