import Foundation
import Logging
import QBOClient
import QBSyncCore
import QBSyncStore
import ServiceLifecycle

/// Reads Intuit's change feed (CDC) per company, at start and every `QBSYNCD_RECONCILE_INTERVAL`,
/// so that an invoice change whose webhook never arrived still changes the status.
///
/// Changes younger than `QBSYNCD_RECONCILE_GRACE` are left to their webhooks and the next pass.
/// Each change of a synced invoice is applied from the feed itself (no extra read), and counted;
/// one that no webhook reported counts as missed. The ratio is the webhook channel's measured
/// loss, in `daemon.status`, `/metrics`, and a `webhook.loss` notice above the threshold.
struct Reconciler: Service, CustomStringConvertible {
    var description: String { "Reconciler" }
    let sync: SyncService
    let webhooks: WebhookRepository
    let logger: Logger

    func run() async throws {
        await refreshTotals()
        while !Task.isShuttingDownGracefully {
            await pass()
            let interval = sync.connections.state.settings.reconcileIntervalSeconds
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(interval)) }
        }
    }

    /// One pass over every connected company.
    func pass(now: Date = Date()) async {
        guard let entries = try? await sync.connections.repository.schedule() else { return }
        for entry in entries {
            do {
                try await reconcile(org: entry.org, now: now)
            } catch {
                var log = logger
                log[metadataKey: LogKey.org] = "\(entry.org)"
                log.info("reconciliation skipped", metadata: [LogKey.error: "\(SyncService.describe(error))"])
            }
        }
        await refreshTotals()
    }

    func reconcile(org: OrgID, now: Date) async throws {
        guard let realm = try await sync.connections.repository.connection(org)?.realmID else { return }
        let settings = sync.connections.state.settings
        let horizon = now.addingTimeInterval(-Double(settings.reconcileGraceSeconds))
        let previous = try await webhooks.reconcileState(realmID: realm)
        // First pass: the last day; later passes: from the checkpoint, with a minute of overlap.
        let checkpoint = previous.map { Date(timeIntervalSince1970: TimeInterval($0.checkpoint)) } ?? now.addingTimeInterval(-86_400)
        let since = max(checkpoint.addingTimeInterval(-60), now.addingTimeInterval(-29 * 86_400))
        let rows = try await sync.changedInvoices(org: org, since: since)
        var changes = 0
        var missed = 0
        for row in rows {
            let updated = row.MetaData?.LastUpdatedTime.flatMap(Self.parse) ?? now
            guard updated > checkpoint || previous == nil, updated <= horizon else { continue }
            guard let mapping = try await sync.mappings.findByQBOID(org: org, qboType: "Invoice", qboID: row.Id) else { continue }
            changes += 1
            if try await !webhooks.reported(realmID: realm, entityName: "Invoice", entityID: row.Id, since: updated.addingTimeInterval(-5)) {
                missed += 1
            }
            _ = try await sync.apply(row, to: mapping)
        }
        try await webhooks.saveReconcileState(realmID: realm, checkpoint: Int64(horizon.timeIntervalSince1970), addChanges: changes, addMissed: missed, now: now)
        if missed > 0 {
            var log = logger
            log[metadataKey: LogKey.org] = "\(org)"
            log[metadataKey: LogKey.realm] = "\(realm)"
            log.notice("the change feed found invoice changes no webhook reported", metadata: ["missed": "\(missed)", "changes": "\(changes)"])
        }
    }

    private func refreshTotals() async {
        guard let totals = try? await webhooks.lossTotals() else { return }
        let state = sync.connections.state
        let before = state.reconciled
        state.reconciled = totals
        let threshold = Double(state.settings.webhookLossThresholdPercent) / 100
        let rate = totals.changes == 0 ? 0 : Double(totals.missed) / Double(totals.changes)
        if rate > threshold, totals.missed > before.missed {
            logger.warning("webhook loss above threshold", metadata: ["loss_rate": "\(rate)", "missed": "\(totals.missed)", "changes": "\(totals.changes)"])
            sync.connections.hub.publish(
                topic: NotificationTopic.webhookLoss, org: nil,
                params: ["lossRate": JSONValue.double(rate), "missed": .int(Int64(totals.missed)), "changes": .int(Int64(totals.changes)), "at": .string(Timestamp.string(Date()))] as JSONValue
            )
        }
    }

    static func parse(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
    }
}
