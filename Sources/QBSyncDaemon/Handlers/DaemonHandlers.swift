import Foundation
import QBSyncCore

/// `daemon.status`: version, uptime, integration, org counts, listener and event counters.
struct DaemonStatusMethod: SynchronousRPCMethod {
    typealias Call = DaemonStatusCall
    static let access = RPCAccess.read

    let state: DaemonState
    let hub: NotificationHub
    let governor: ReadGovernor
    let pipeline: FeedPipeline

    func handleNow(_ params: NoParams, context: RPCContext) throws -> DaemonStatus {
        let settings = state.settings
        let counts = state.orgCounts
        let reload = state.reload
        let webhooks = state.webhookCounters
        let events = state.eventCounts
        let realms = pipeline.status
        return DaemonStatus(
            version: QBSyncVersion.current,
            startedAt: state.startedAtText,
            uptimeSeconds: max(0, Int(Date().timeIntervalSince(state.startedAt))),
            integration: .init(
                enabled: settings.integrationEnabled, missing: settings.integrationMissing,
                environment: settings.quickBooks.environment.rawValue
            ),
            orgs: .init(total: counts.total, connected: counts.connected, needsReauthorization: counts.needsReauthorization),
            webhook: .init(
                listen: state.webhookListen ?? settings.webhookListen.description, accepted: webhooks.accepted, rejected: webhooks.rejected,
                reconciledChanges: state.reconciled.changes, missedByWebhooks: state.reconciled.missed, unparsed: state.webhookEventsUnparsed,
                duplicates: state.webhookDuplicates
            ),
            events: .init(pending: events.pending, failed: events.failed),
            config: .init(
                path: settings.configFilePath, loadedAt: reload.loadedAt, reloads: reload.reloads,
                lastReloadError: reload.lastError
            ),
            controlConnections: state.controlConnections,
            subscribers: hub.subscriberCount,
            quota: governor.status(),
            pipeline: PipelineStatus(
                realmsActive: realms.active, eventsQueued: events.pending,
                oldestPendingSeconds: state.oldestPendingEvent.map { max(0, Int(Date().timeIntervalSince($0))) } ?? 0,
                realmsWaiting: realms.waiting
            )
        )
    }
}

/// `subscribe`: registers the connection for notifications until it closes.
struct SubscribeMethod: SynchronousRPCMethod {
    typealias Call = SubscribeCall
    typealias Result = Call.Result
    static let access = RPCAccess.read

    func handleNow(_ params: Params, context: RPCContext) throws -> Result {
        if let topics = params.topics {
            for (index, topic) in topics.enumerated() where !NotificationTopic.all.contains(topic) {
                throw QBSyncError.invalidParams(
                    field: "topics[\(index)]", detail: "'\(topic)' is not one of \(NotificationTopic.all.sorted().joined(separator: ", "))"
                )
            }
        }
        let topics = params.topics.map(Set.init)
        context.notifications.subscribe(SubscriptionFilter(org: params.org, topics: topics))
        return Result(subscribed: true, topics: (topics ?? NotificationTopic.all).sorted())
    }
}

/// `quota.show`: the `quota` of `daemon.status`, and this month's reads by company (top 100).
struct QuotaShowMethod: RPCMethod {
    typealias Call = QuotaShowCall
    typealias Result = Call.Result
    static let access = RPCAccess.read
    let governor: ReadGovernor

    func handle(_ params: NoParams, context: RPCContext) async throws -> Result {
        let quota = governor.status()
        let realms = try await governor.repository.byRealm(month: quota.month, limit: 100)
        return Result(quota: quota, byRealm: realms.map { Result.Realm(realmId: $0.realmID, org: $0.org, reads: $0.reads) })
    }
}
