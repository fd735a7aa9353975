import Foundation
import Logging
import QBSyncCore
import QBSyncStore
import ServiceLifecycle

/// Catch-up for lost webhooks within the read budget: fits the sweep period to the budget
/// (``SweepPlan``), asks the pipeline to sweep each company when its turn is due, keeps the
/// quota's state current (its forecast moves with time) and measures webhook loss.
struct SweepService: Service, CustomStringConvertible {
    var description: String { "SweepService" }
    let pipeline: FeedPipeline
    let feeds: any FeedStateStore
    let governor: ReadGovernor
    let state: DaemonState
    let hub: NotificationHub
    let logger: Logger

    func run() async throws {
        var firstSeen: [String: Date] = [:]
        while !Task.isShuttingDownGracefully {
            let period = Double(state.settings.sweepPeriodSeconds)
            do {
                try await tick(now: Date(), firstSeen: &firstSeen)
            } catch {
                logger.warning("the sweep plan could not be made", metadata: [LogKey.error: "\(error)"])
            }
            // A tick is cheap (one read of the companies' feed state); a short period (tests) ticks faster.
            let interval = min(5, max(0.25, period / 4))
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(Int64(interval * 1000))) }  // try?: shutdown ends the wait
        }
    }

    /// One planning pass: returns the sweeps it asked for.
    @discardableResult
    func tick(now: Date, firstSeen: inout [String: Date]) async throws -> Int {
        // Other instances' reads count against the same budget.
        await governor.resync(now: now)
        let (companies, states) = try await feeds.connected()
        let plan = SweepPlan.fit(basePeriod: Double(state.settings.sweepPeriodSeconds), companies: companies.count, budget: governor.current, now: now)
        governor.setPlan(plan)
        governor.checkState(now: now)
        let byRealm = Dictionary(states.map { ($0.realmID, $0) }, uniquingKeysWith: { first, _ in first })
        var asked = 0
        for realmID in companies {
            let seen = firstSeen[realmID] ?? now
            firstSeen[realmID] = seen
            let feed = byRealm[realmID]
            let company = SweepPlan.Company(realmID: realmID, lastReadAt: feed?.lastReadAt, suspectedLoss: feed?.suspectedLoss ?? false)
            guard plan.dueAt(company, firstSeen: seen) <= now, governor.allows(.sweep, now: now) else { continue }
            if pipeline.sweep(realmID: realmID) { asked += 1 }
        }
        await measureLoss(now: now)
        return asked
    }

    private func measureLoss(now: Date) async {
        guard let totals = try? await feeds.lossTotals() else { return }  // try?: measured again next tick
        let before = state.reconciled
        state.reconciled = totals
        let threshold = Double(state.settings.webhookLossThresholdPercent) / 100
        let rate = totals.changes == 0 ? 0 : Double(totals.missed) / Double(totals.changes)
        guard rate > threshold, totals.missed > before.missed else { return }
        logger.warning("webhook loss above threshold", metadata: [LogKey.lossRate: "\(rate)", LogKey.missed: "\(totals.missed)", LogKey.changes: "\(totals.changes)"])
        hub.publish(
            topic: NotificationTopic.webhookLoss, org: nil,
            params: ["lossRate": JSONValue.double(rate), "missed": .int(Int64(totals.missed)), "changes": .int(Int64(totals.changes)), "at": .string(Timestamp.string(now))] as JSONValue
        )
    }
}
