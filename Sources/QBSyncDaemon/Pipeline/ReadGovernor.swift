import Foundation
import Logging
import QBOClient
import QBSyncCore
import QBSyncStore
import Synchronization

/// The app-wide budget of Intuit's metered reads at run time. Every read the daemon sends passes
/// through ``take(_:realmID:)`` first: it is counted in the store (so a restart loses no count)
/// or refused with `read_quota_exhausted` before Intuit would refuse it. The decisions are
/// ``ReadBudget``'s; this type holds the month's counts, persists them and tells operators when
/// the state changes (`quota.status_changed`, and a warning in the journal).
final class ReadGovernor: Sendable {
    private let budget: Mutex<ReadBudget>
    private let reported: Mutex<QuotaState>
    /// The sweep plan in force (set by the sweep service), for `quota`.
    private let plan = Mutex<SweepPlan?>(nil)
    /// `resetsAt` of a month, formatted once (`daemon.status` is the hottest call).
    private let resetsAt = Mutex<(month: String, text: String)>(("", ""))
    let repository: any ReadQuotaStore
    let state: DaemonState
    let hub: NotificationHub
    let logger: Logger

    private init(budget: ReadBudget, repository: any ReadQuotaStore, state: DaemonState, hub: NotificationHub, logger: Logger) {
        self.budget = Mutex(budget)
        reported = Mutex(budget.state(now: Date()))
        self.repository = repository
        self.state = state
        self.hub = hub
        self.logger = logger
    }

    static func load(repository: any ReadQuotaStore, state: DaemonState, hub: NotificationHub, logger: Logger, now: Date = Date()) async throws -> ReadGovernor {
        let settings = state.settings
        let budget = try await repository.load(month: ReadBudget.month(of: now), budget: settings.readQuota, reservePercent: settings.readReservePercent)
        return ReadGovernor(budget: budget, repository: repository, state: state, hub: hub, logger: logger)
    }

    /// A meter for an Accounting API client whose reads are of one class.
    func meter(_ readClass: ReadClass) -> any ReadMeter { ClassMeter(governor: self, readClass: readClass) }

    /// Counts one read, or refuses it. A read that cannot be counted is not sent.
    func take(_ readClass: ReadClass, realmID: String, now: Date = Date()) async throws(QBOClientError) {
        let settings = state.settings
        let (decision, month) = budget.withLock { budget -> (ReadBudget.Decision, String) in
            budget.budget = settings.readQuota
            budget.reservePercent = settings.readReservePercent
            return (budget.take(readClass, now: now), budget.month)
        }
        if case .refused(let refusal) = decision {
            checkState(now: now)
            throw .readQuotaExhausted(refusal)
        }
        do {
            try await repository.count(readClass, realmID: realmID, month: month)
        } catch {
            throw .unavailable("the read could not be counted in the store (\(type(of: error))), so it was not sent")
        }
        checkState(now: now)
    }

    /// Reads the month's counts again from the store: among several instances, each counts its own
    /// reads in memory, and the others' reach it here (the sweep service calls this each tick, so
    /// the app-wide total it decides on is at most a few seconds behind).
    func resync(now: Date = Date()) async {
        let settings = state.settings
        let month = ReadBudget.month(of: now)
        do {
            let stored = try await repository.load(month: month, budget: settings.readQuota, reservePercent: settings.readReservePercent)
            budget.withLock { budget in
                budget.rollOver(now: now)
                budget.merge(stored: stored)
            }
        } catch {
            logger.debug("the read counts could not be read again; the next tick tries again", metadata: [LogKey.error: "\(error)"])
        }
        checkState(now: now)
    }

    /// Intuit refused a read for the monthly limit: nothing more is sent this month.
    func intuitRefused(now: Date = Date()) async -> QuotaRefusal {
        let (refusal, month) = budget.withLock { budget in
            budget.intuitRefused(now: now)
            return (budget.refusal(), budget.month)
        }
        logger.error("Intuit refused a read: the app's monthly limit of metered reads is spent", metadata: [LogKey.month: "\(month)"])
        do { try await repository.markRefusedByIntuit(month: month) } catch {
            logger.error("could not record Intuit's quota refusal", metadata: [LogKey.error: "\(error)"])
        }
        checkState(now: now)
        return refusal
    }

    func allows(_ readClass: ReadClass, now: Date = Date()) -> Bool {
        snapshot(now: now).allows(readClass)
    }

    /// The month's counts and limits as they stand.
    var current: ReadBudget { budget.withLock { $0 } }

    /// The counts, rolled over to `now`'s month.
    private func snapshot(now: Date) -> ReadBudget {
        budget.withLock { budget in
            budget.rollOver(now: now)
            return budget
        }
    }

    func setPlan(_ plan: SweepPlan) { self.plan.withLock { $0 = plan } }

    /// Notifies and logs a change of state (also called on a timer: the forecast moves with time).
    func checkState(now: Date = Date()) {
        let snapshot = snapshot(now: now)
        let new = snapshot.state(now: now)
        let old = reported.withLock { reported -> QuotaState in
            let old = reported
            reported = new
            return old
        }
        guard new != old else { return }
        let forecast = snapshot.forecast(now: now)
        let metadata: Logger.Metadata = [
            LogKey.from: "\(old.rawValue)", LogKey.to: "\(new.rawValue)", LogKey.used: "\(snapshot.total)", LogKey.budget: "\(snapshot.budget)",
            LogKey.forecast: "\(forecast)",
        ]
        if new > old {
            logger.warning("the app's monthly budget of QuickBooks reads changed state", metadata: metadata)
        } else {
            logger.notice("the app's monthly budget of QuickBooks reads changed state", metadata: metadata)
        }
        let params: JSONValue = [
            "from": .string(old.rawValue), "to": .string(new.rawValue), "used": .int(Int64(snapshot.total)), "budget": .int(Int64(snapshot.budget)),
            "forecast": .int(Int64(forecast)), "at": .string(Timestamp.string(now)),
        ]
        // Several instances see the same app-wide change: the one that claims it tells subscribers
        // (every instance's, relayed). A claim that cannot be made tells anyway: twice beats never.
        let (hub, repository, month) = (hub, repository, snapshot.month)
        Task {
            guard (try? await repository.claimStateChange(month: month, to: new.rawValue)) != false else { return }
            hub.publish(topic: NotificationTopic.quotaStatusChanged, org: nil, params: params)
        }
    }

    private func resetsAtText(_ month: String) -> String {
        resetsAt.withLock { cached in
            if cached.month != month { cached = (month, Timestamp.string(ReadBudget.monthEnd(of: month))) }
            return cached.text
        }
    }

    /// `quota` of `daemon.status`.
    func status(now: Date = Date()) -> QuotaStatus {
        let snapshot = snapshot(now: now)
        let plan = self.plan.withLock { $0 }
        return QuotaStatus(
            month: snapshot.month, used: snapshot.total, budget: snapshot.budget, reserve: snapshot.reserve, forecast: snapshot.forecast(now: now),
            state: snapshot.state(now: now).rawValue, resetsAt: resetsAtText(snapshot.month),
            byClass: .init(sweep: snapshot.used[.sweep] ?? 0, event: snapshot.used[.event] ?? 0, operator: snapshot.used[.operator] ?? 0),
            sweepPeriodSeconds: plan.map { $0.period.isFinite ? Int($0.period) : nil } ?? state.settings.sweepPeriodSeconds,
            sweepStretch: plan.map { $0.period.isFinite ? ($0.stretch * 1000).rounded() / 1000 : 0 } ?? 1
        )
    }
}

/// The meter an `AccountingClient` calls before each read.
private struct ClassMeter: ReadMeter {
    let governor: ReadGovernor
    let readClass: ReadClass

    func willRead(realmID: String) async throws(QBOClientError) {
        try await governor.take(readClass, realmID: realmID)
    }

    func intuitRefused() async -> QuotaRefusal {
        await governor.intuitRefused()
    }
}
