import Foundation
import Logging
import QBSyncCore
import QBSyncStore
import ServiceLifecycle
import Synchronization

/// Refreshes every connected org's access token `QBSYNCD_REFRESH_MARGIN` seconds (less jitter)
/// before it expires, from one loop over one min-heap: no timer or task per org.
///
/// Due times are instants of the monotonic clock, derived from the seconds a token has left: a
/// wall-clock jump neither makes every token look expired (a storm) nor pushes a refresh past
/// the expiry. The heap is rebuilt from the store at start; superseded entries are skipped when
/// popped. At most ``maximumConcurrentRefreshes`` run at once.
final class TokenScheduler: Service, Sendable {
    static let maximumConcurrentRefreshes = 8
    /// The loop wakes at least this often to take schedule changes.
    static let tick: Duration = .seconds(1)
    /// Reconnect warnings are looked for this often (and at start).
    static let warningSweep: TimeInterval = 3600
    static let sweepSpacing: TimeInterval = 10

    typealias Plan = TokenRefreshStateMachine<ContinuousClock.Instant>

    private struct State {
        var plan = Plan(maximumConcurrent: TokenScheduler.maximumConcurrentRefreshes)
        var lastSweep: ContinuousClock.Instant?
        /// Tokens changed since the last sweep: look again soon (at most every ``sweepSpacing``).
        var sweepRequested = false
    }

    private let refresher: TokenRefresher
    private let repository: any ConnectionStore
    private let hub: NotificationHub
    private let settings: CurrentSettings
    private let changes: AsyncStream<TokenRefresher.ScheduleChange>
    private let logger: Logger
    /// Whose grants this instance refreshes (every org's, alone on its store).
    private let leases: CompanyLeases
    private let state = Mutex(State())

    /// Finished once the schedule is loaded from the store (systemd's READY waits for it).
    private let loaded: AsyncStream<Void>.Continuation

    init(
        refresher: TokenRefresher, repository: any ConnectionStore, hub: NotificationHub, settings: @escaping CurrentSettings,
        changes: AsyncStream<TokenRefresher.ScheduleChange>, loaded: AsyncStream<Void>.Continuation, leases: CompanyLeases = .sole(), logger: Logger
    ) {
        self.leases = leases
        self.refresher = refresher
        self.repository = repository
        self.hub = hub
        self.settings = settings
        self.changes = changes
        self.loaded = loaded
        self.logger = logger
    }

    func run() async throws {
        try await rebuild()
        loaded.finish()
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await change in self.changes.cancelOnGracefulShutdown() { self.apply(change) }
            }
            while !Task.isShuttingDownGracefully {
                startDueRefreshes(in: &group)
                await sweepReconnectWarningsIfDue()
                let wake = state.withLock { $0.plan.nextWake(now: .now, tick: Self.tick) }
                try? await cancelWhenGracefulShutdown { try await Task.sleep(until: wake, clock: .continuous) }  // try?: a shutdown ends the wait
            }
            group.cancelAll()
        }
    }

    /// Loads every connected org's schedule from the store.
    func rebuild() async throws {
        let entries = try await repository.schedule()
        let now = Date()
        let spread = Plan.restartSpread(orgs: entries.count)
        for entry in entries {
            let delay = Plan.delayAfterRestart(
                expiresIn: entry.accessTokenExpiresAt.timeIntervalSince(now), retryIn: entry.nextRetryAt?.timeIntervalSince(now), margin: margin(),
                jitter: jitter(), spread: spread, position: Double.random(in: 0...1)
            )
            schedule(entry.org, inSeconds: delay)
        }
        logger.info("token schedule loaded", metadata: [LogKey.orgs: "\(entries.count)"])
    }

    func apply(_ change: TokenRefresher.ScheduleChange) {
        switch change {
        case .tokenExpires(let org, let seconds):
            schedule(org, inSeconds: Plan.refreshDelay(expiresIn: seconds, margin: margin(), jitter: jitter()))
            state.withLock { $0.sweepRequested = true }
        case .retry(let org, let seconds): schedule(org, inSeconds: seconds)
        case .removed(let org): state.withLock { $0.plan.remove(org) }
        }
    }

    private func schedule(_ org: OrgID, inSeconds seconds: TimeInterval) {
        let due = ContinuousClock.now + .milliseconds(Int64(max(0, seconds) * 1000))
        state.withLock { $0.plan.schedule(org, at: due) }
    }

    /// Companies this instance took over from another (dead or stopped) instance: their orgs' grants
    /// are refreshed now, here (the old holder's schedule died with it; this one's may not know an
    /// org connected through another instance). Their schedule follows from the refresh.
    func tookOver(realms: [String]) async {
        for realm in realms {
            do {
                guard let org = try await repository.realmOwner(realm) else { continue }
                schedule(org, inSeconds: 0)
            } catch {
                logger.warning("a company taken over could not be scheduled for its refresh", metadata: [LogKey.realm: "\(realm)", LogKey.error: "\(error)"])
            }
        }
    }

    /// How soon an org whose company another instance holds is looked at again.
    static let elsewhereRecheck: TimeInterval = 15

    /// The org's company; nil (logged) when it has none now or the store cannot say: the refresher's
    /// own schedule changes bring it back.
    private func realm(of org: OrgID) async -> String? {
        do {
            return try await repository.realm(of: org)
        } catch {
            logger.warning("a scheduled refresh could not find the org's company; it is looked at again shortly", metadata: [LogKey.org: "\(org)", LogKey.error: "\(error)"])
            schedule(org, inSeconds: Self.elsewhereRecheck)
            return nil
        }
    }

    private func margin() -> TimeInterval { Double(settings().refreshMarginSeconds) }

    /// Up to a fifth of the margin (at most a minute), so orgs connected together do not stay in step.
    private func jitter() -> TimeInterval { Double.random(in: 0...Plan.maximumJitter(margin: margin())) }

    private func startDueRefreshes(in group: inout DiscardingTaskGroup) {
        let now = ContinuousClock.now
        let due = state.withLock { $0.plan.takeDue(now: now) }
        for org in due {
            group.addTask {
                defer { self.state.withLock { $0.plan.finished() } }
                guard let realm = await self.realm(of: org) else { return }
                let ran: Bool? = await self.leases.withHold(realm) {
                    // Failures are recorded and rescheduled by the refresher (cooldown, or needs_reauthorization).
                    _ = try? await self.refresher.refresh(org: org, reason: "scheduled")  // try?: the refresher records and reschedules every failure
                    return true
                }
                // Another instance holds the company and refreshes its grant: look again later (a
                // takeover refreshes it here then, whatever its expiry).
                if ran == nil { self.schedule(org, inSeconds: Self.elsewhereRecheck) }
            }
        }
    }

    /// Warns (log and `connection.reconnect_due`) about orgs whose grant ends within the warning window.
    private func sweepReconnectWarningsIfDue() async {
        let now = ContinuousClock.now
        let due = state.withLock { state -> Bool in
            if let last = state.lastSweep {
                let elapsed = now - last
                guard elapsed >= .seconds(Self.warningSweep) || (state.sweepRequested && elapsed >= .seconds(Self.sweepSpacing)) else { return false }
            }
            state.lastSweep = now
            state.sweepRequested = false
            return true
        }
        guard due else { return }
        let entries: [ScheduleEntry]
        do {
            entries = try await repository.schedule()
        } catch {
            logger.warning("reconnect warnings not looked for: the store cannot be read; trying again within the hour", metadata: [LogKey.error: "\(error)"])
            return
        }
        let window = Double(settings().reconnectWarningDays) * 86_400
        let wallNow = Date()
        for entry in entries {
            guard let reconnectBy = entry.reconnectBy, reconnectBy.timeIntervalSince(wallNow) < window else { continue }
            if let warned = entry.reconnectWarnedAt, wallNow.timeIntervalSince(warned) < 86_400 { continue }
            let days = Int((reconnectBy.timeIntervalSince(wallNow) / 86_400).rounded(.down))
            var log = logger
            log[metadataKey: LogKey.org] = "\(entry.org)"
            log.warning("organisation must connect to QuickBooks again soon", metadata: [LogKey.reconnectBy: "\(Timestamp.string(reconnectBy))", LogKey.daysLeft: "\(days)"])
            hub.publish(
                topic: NotificationTopic.connectionReconnectDue, org: entry.org,
                params: ReconnectDue(org: entry.org.rawValue, reconnectBy: Timestamp.string(reconnectBy), daysLeft: days, at: Timestamp.string(wallNow))
            )
            do {
                try await repository.markReconnectWarned(org: entry.org, now: wallNow)
            } catch {
                log.warning("the reconnect warning could not be recorded; it may be repeated", metadata: [LogKey.error: "\(error)"])
            }
        }
    }
}
