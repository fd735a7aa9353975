import Foundation
import Logging
import QBOClient
import QBSyncCore
import QBSyncStore
import ServiceLifecycle

/// Processes stored webhook events after the delivery was answered: in id order (so per realm in
/// the order Intuit sent them), each re-reading the QuickBooks state it concerns.
///
/// Invoice events re-read the invoice; payment events read the payment and refresh each invoice it
/// links. A duplicate (same CloudEvents id, or the same change again) and an entity this daemon
/// does not sync are `ignored` with the reason. Failures that may pass (QuickBooks unavailable,
/// throttled) retry with back-off and end `failed` after ``maximumAttempts``; the rest fail at once.
/// Pending work survives a restart: it is all in the store.
final class EventProcessor: Service, Sendable, CustomStringConvertible {
    var description: String { "EventProcessor" }
    static let maximumAttempts = 8
    static let backoff: [TimeInterval] = [2, 10, 30, 120, 600, 1800, 3600]

    let repository: WebhookRepository
    let sync: SyncService
    let state: DaemonState
    let logger: Logger
    let wakeups: AsyncStream<Void>
    let wakeup: AsyncStream<Void>.Continuation

    init(repository: WebhookRepository, sync: SyncService, state: DaemonState, logger: Logger) {
        self.repository = repository
        self.sync = sync
        self.state = state
        self.logger = logger
        (wakeups, wakeup) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask {
                // A steady tick brings back events whose retry is due.
                while !Task.isShuttingDownGracefully {
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
                    self.wakeup.yield()
                }
            }
            await drain()
            for await _ in wakeups.cancelOnGracefulShutdown() {
                await drain()
            }
            group.cancelAll()
        }
    }

    /// Processes every due event.
    func drain() async {
        var processed = false
        while !Task.isShuttingDownGracefully, let batch = try? await repository.due(now: Date(), limit: 100), !batch.isEmpty {
            for event in batch { await process(event) }
            processed = true
            if batch.count < 100 { break }
        }
        // The counts change only here, in event.retry and at start-up: an idle tick costs no COUNT.
        if processed { await updateCounts() }
    }

    func updateCounts() async {
        if let counts = try? await repository.counts() { state.updateEventCounts(pending: counts.pending, failed: counts.failed) }
    }

    /// One event; returns its row as finished (or left pending for a retry).
    @discardableResult
    func process(_ event: EventRecord) async -> EventRecord? {
        var log = logger
        log[metadataKey: LogKey.event] = "\(event.id)"
        log[metadataKey: LogKey.realm] = "\(event.realmID)"
        if let org = event.org { log[metadataKey: LogKey.org] = "\(org)" }
        guard let org = event.org else { return await finish(event, "ignored", "no organisation is connected to QuickBooks company \(event.realmID)") }
        if let original = try? await repository.duplicateOf(event) {
            return await finish(event, "ignored", "duplicate of event \(original)")
        }
        do {
            switch event.fact.entityName {
            case "Invoice":
                guard let mapping = try await sync.mappings.findByQBOID(org: org, qboType: "Invoice", qboID: event.fact.entityID) else {
                    return await finish(event, "ignored", "invoice \(event.fact.entityID) was not synced by qbsyncd")
                }
                let refreshed = try await sync.refreshInvoice(org: org, demandID: mapping.localID)
                log.debug("invoice event processed", metadata: [LogKey.demand: "\(mapping.localID)", "status": "\(refreshed.status.rawValue)"])
            case "Payment":
                let invoices = try await sync.invoicesLinked(toPayment: event.fact.entityID, org: org)
                var refreshed = 0
                for qboID in invoices {
                    if let mapping = try await sync.mappings.findByQBOID(org: org, qboType: "Invoice", qboID: qboID) {
                        _ = try await sync.refreshInvoice(org: org, demandID: mapping.localID)
                        refreshed += 1
                    }
                }
                if invoices.isEmpty && event.fact.operation == "Delete" {
                    return await finish(event, "processed", "the payment is deleted; its invoices are caught up by the reconciler")
                }
                log.debug("payment event processed", metadata: ["invoices": "\(refreshed)"])
            default:
                return await finish(event, "ignored", "\(event.fact.entityName) changes are not synced by qbsyncd")
            }
            return await finish(event, "processed", nil)
        } catch let error as QBSyncError {
            switch error {
            case .qboUnavailable, .rateLimited:
                let attempt = event.attempts + 1
                guard attempt < Self.maximumAttempts else { return await finish(event, "failed", error.rpcError.message) }
                let delay = Self.backoff[min(attempt - 1, Self.backoff.count - 1)]
                try? await repository.retryLater(id: event.id, error: error.rpcError.message, at: Date().addingTimeInterval(delay))
                log.info("webhook event will be retried", metadata: [LogKey.error: "\(error.rpcError.message)", "in_s": "\(Int(delay))"])
                return try? await repository.find(id: event.id)
            default:
                return await finish(event, "failed", error.rpcError.message)
            }
        } catch {
            return await finish(event, "failed", "\(type(of: error))")
        }
    }

    private func finish(_ event: EventRecord, _ status: String, _ error: String?) async -> EventRecord? {
        let finished = try? await repository.finish(id: event.id, status: status, error: error, now: Date())
        if let finished {
            sync.connections.hub.publish(topic: NotificationTopic.webhookEvent, org: finished.org, params: finished.event)
            if status == "failed" {
                var log = logger
                log[metadataKey: LogKey.event] = "\(event.id)"
                log.warning("webhook event failed", metadata: [LogKey.error: "\(error ?? "")"])
            }
        }
        return finished
    }
}
