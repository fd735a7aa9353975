import Foundation
import Logging
import QBOClient
import QBSyncCore
import QBSyncStore

/// One company's turn in the pipeline: settles its pending webhook events with at most one read
/// of the company's change feed for all of them (or one for a sweep), and applies what the feed
/// says. The decisions are pure (``EventTriage``, ``FeedReading``, ``EventRetryPolicy``); this
/// type carries them out against the store and QuickBooks.
struct FeedWorker: Sendable {
    let webhooks: any WebhookLog
    let feeds: any FeedStateStore
    let sync: SyncService
    let mappings: any MappingStore
    /// Which org holds a company now.
    let grants: any ConnectionStore
    let hub: NotificationHub
    let settings: CurrentSettings
    /// Which companies' events this instance settles (every one, alone on its store).
    let leases: CompanyLeases
    let logger: Logger
    /// Events taken in one turn (the rest wait for the next).
    static let batch = 500
    /// A change the feed does not show yet is looked for again this many times before it is read directly.
    static let feedLookups = 2

    init(
        webhooks: any WebhookLog, feeds: any FeedStateStore, sync: SyncService, mappings: any MappingStore, grants: any ConnectionStore, hub: NotificationHub,
        settings: @escaping CurrentSettings, leases: CompanyLeases = .sole(), logger: Logger
    ) {
        self.leases = leases
        self.webhooks = webhooks
        self.feeds = feeds
        self.sync = sync
        self.mappings = mappings
        self.grants = grants
        self.hub = hub
        self.settings = settings
        self.logger = logger
    }

    /// Wired from the sync service's own parts (tests).
    init(webhooks: any WebhookLog, feeds: any FeedStateStore, sync: SyncService, logger: Logger) {
        self.init(
            webhooks: webhooks, feeds: feeds, sync: sync, mappings: sync.mappings, grants: sync.access.repository, hub: sync.hub, settings: sync.settings, logger: logger
        )
    }

    /// One turn; returns when the company's remaining events are due (nil: none remain).
    func run(realmID: String, readClass: ReadClass, now: Date = Date()) async -> Date? {
        var log = logger
        log[metadataKey: LogKey.realm] = "\(realmID)"
        do {
            // Another instance holds the company and settles its events: nothing is due here until
            // this one takes the company over (its keeper hands the company back to the pipeline).
            guard try await leases.withHold(realmID, { try await turn(realmID: realmID, sweep: readClass == .sweep, now: now, log: log) }) != nil else {
                return nil
            }
        } catch {
            log.error("the pipeline could not finish a company's turn", metadata: [LogKey.error: "\(SyncService.describe(error))"])
            return now.addingTimeInterval(60)
        }
        return try? await webhooks.nextDue(realmID: realmID)  // try?: the store failed just now; the restart resumes from it
    }

    private struct Pending {
        var event: EventRecord
        var time: Date?
        var mapping: MappingRecord?
    }

    private func turn(realmID: String, sweep: Bool, now: Date, log: Logger) async throws {
        let events = try await webhooks.due(realmID: realmID, now: now, limit: Self.batch)
        var settled: [(id: Int64, status: String, resolution: String?, error: String?)] = []
        var waiting: [Pending] = []
        for event in events {
            guard let org = event.org else {
                settled.append((event.id, "ignored", nil, "no organisation is connected to QuickBooks company \(realmID)"))
                continue
            }
            // A customer qbsyncd pushed: an edit made in QuickBooks is drift (SyncService reads and compares).
            if event.fact.entityName == "Customer", let outcome = try await sync.settleCustomerEvent(event, org: org) {
                settled.append((event.id, outcome.status, outcome.resolution, outcome.error))
                continue
            }
            let time = event.fact.lastUpdated.flatMap(IntuitTime.parse)
            let mapping = event.fact.entityName == "Invoice" ? try await mappings.findByQBOID(org: org, realm: realmID, qboType: "Invoice", qboID: event.fact.entityID) : nil
            let triage = EventTriage.decide(
                entityName: event.fact.entityName, eventTime: time, duplicateOf: try await webhooks.duplicateOf(event),
                mapping: event.fact.entityName == "Invoice" ? (mapping != nil, mapping?.qboUpdatedAt) : nil
            )
            switch triage {
            case .ignore(let reason): settled.append((event.id, "ignored", nil, reason))
            case .ownWrite: settled.append((event.id, "processed", "qbsyncd's own write (SyncToken \(mapping?.syncToken ?? "?")): no read", nil))
            case .needsFeed: waiting.append(Pending(event: event, time: time, mapping: mapping))
            }
        }
        guard !waiting.isEmpty || sweep, let org = try await grants.realmOwner(realmID) else {
            try await settle(settled, now: now)
            return
        }
        do {
            let result = try await readAndApply(
                realmID: realmID, org: org, readClass: waiting.isEmpty ? .sweep : .event, eventsSince: waiting.map(\.event.receivedAt).min(), now: now, log: log
            )
            for pending in waiting {
                settled.append(try await resolve(pending, org: org, result: result, now: now))
            }
            try await settle(settled.filter { $0.status != "pending" }, now: now)
            let retry = settled.filter { $0.status == "pending" }
            try await webhooks.postpone(ids: retry.map(\.id), error: "not in the change feed yet", at: now.addingTimeInterval(5))
        } catch where SyncService.isAnswer(error) {
            try await settle(settled, now: now)
            try await postpone(waiting.map(\.event), after: error, now: now, log: log)
        }
    }

    /// What one turn's reads found.
    struct FeedResult {
        var at: Date
        var invoices: [String: EntityStatus] = [:]
        var payments: [String: Int] = [:]
    }

    /// Reads the feed from the watermark (again at once while answers come back full), applies
    /// every row and records the read. A change no webhook reported counts as missed (the loss
    /// measurement); the company is suspected of losing webhooks (swept sooner) only when such a
    /// change would have stayed unseen: found by a sweep, or older than the events being served.
    private func readAndApply(realmID: String, org: OrgID, readClass: ReadClass, eventsSince: Date?, now: Date, log: Logger) async throws -> FeedResult {
        let previous = try await feeds.state(realmID: realmID)
        let start = previous?.watermark ?? now.addingTimeInterval(-86_400)
        var watermark = start
        var result = FeedResult(at: now)
        var changes = 0
        var missed = 0
        var unseen = 0
        let horizon = now.addingTimeInterval(-Double(settings().reconcileGraceSeconds))
        for _ in 0..<10 {
            let feed = try await sync.readFeed(org: org, since: FeedReading.since(watermark: watermark, now: now), readClass: readClass)
            let rows = Self.changes(feed)
            for row in feed.payments where !row.isDeleted && !row.isVoided {
                try await feeds.storeLinks(realmID: realmID, paymentID: row.Id, invoiceIDs: row.invoiceIDs)
            }
            for row in feed.payments { result.payments[row.Id] = row.invoiceIDs.count }
            for row in feed.invoices {
                guard let mapping = try await mappings.findByQBOID(org: org, realm: realmID, qboType: "Invoice", qboID: row.Id) else { continue }
                let applied = try await sync.apply(row, to: mapping)
                result.invoices[row.Id] = applied.status
                let updated = row.MetaData?.lastUpdated ?? now
                guard updated > start, updated <= horizon else { continue }
                changes += 1
                if try await !webhooks.reported(realmID: realmID, entityName: "Invoice", entityID: row.Id, since: updated.addingTimeInterval(-5)) {
                    missed += 1
                    // Already known (qbsyncd's own write, or an earlier read) is no reason to sweep sooner.
                    let known = mapping.qboUpdatedAt.map { updated.timeIntervalSince1970.rounded(.down) <= $0.timeIntervalSince1970 } ?? false
                    if !known, eventsSince.map({ updated < $0.addingTimeInterval(-60) }) ?? true { unseen += 1 }
                }
            }
            let links = try await feeds.links(realmID: realmID, paymentIDs: feed.payments.map(\.Id))
            for invoiceID in FeedReading.invoicesToReread(rows, knownLinks: links) {
                guard let mapping = try await mappings.findByQBOID(org: org, realm: realmID, qboType: "Invoice", qboID: invoiceID) else { continue }
                result.invoices[invoiceID] = try await sync.refreshInvoice(org: org, realm: realmID, demandID: mapping.localID, readClass: .event).status
            }
            let outcome = FeedReading.outcome(of: rows, watermark: watermark)
            watermark = outcome.watermark
            if outcome.narrow {
                log.error("the change feed answered 1,000 changes of one second; the rest of that second cannot be read", metadata: [LogKey.since: "\(Timestamp.string(watermark))"])
                watermark = rows.compactMap(\.updatedAt).max() ?? watermark
            }
            guard outcome.readAgain else { break }
        }
        try await feeds.recordRead(realmID: realmID, watermark: watermark, at: now, addChanges: changes, addMissed: missed, suspectedLoss: unseen > 0)
        if missed > 0 {
            log.notice("the change feed found invoice changes no webhook reported", metadata: [LogKey.missed: "\(missed)", LogKey.changes: "\(changes)"])
        }
        return result
    }

    /// How an event that needed the feed ends: processed with what settled it, or looked for again.
    private func resolve(_ pending: Pending, org: OrgID, result: FeedResult, now: Date) async throws -> (id: Int64, status: String, resolution: String?, error: String?) {
        let event = pending.event
        let read = "change feed read at \(Timestamp.string(result.at))"
        switch event.fact.entityName {
        case "Invoice":
            if let status = result.invoices[event.fact.entityID] { return (event.id, "processed", "\(read): invoice \(event.fact.entityID) is \(status.rawValue)", nil) }
            // Already current: a later record of this invoice is stored.
            if let time = pending.time, let stored = try await mappings.findByQBOID(org: org, realm: event.realmID, qboType: "Invoice", qboID: event.fact.entityID)?.qboUpdatedAt,
                time.timeIntervalSince1970.rounded(.down) <= stored.timeIntervalSince1970
            {
                return (event.id, "processed", "\(read): the stored invoice is already as recent", nil)
            }
            guard event.attempts + 1 >= Self.feedLookups, let mapping = pending.mapping else { return (event.id, "pending", nil, nil) }
            let refreshed = try await sync.refreshInvoice(org: org, realm: event.realmID, demandID: mapping.localID, readClass: .event)
            return (event.id, "processed", "read directly (the change feed did not show it): invoice is \(refreshed.status.rawValue)", nil)
        default:
            if let invoices = result.payments[event.fact.entityID] {
                return (event.id, "processed", "\(read): payment \(event.fact.entityID) pays \(invoices) invoice(s)", nil)
            }
            guard event.attempts + 1 >= Self.feedLookups else { return (event.id, "pending", nil, nil) }
            return (event.id, "processed", "\(read): payment \(event.fact.entityID) was not in the feed; its invoices are caught up by the sweep", nil)
        }
    }

    /// A read that failed: transient failures retry with back-off, a spent budget waits without
    /// using up attempts, anything else fails the events for an operator.
    private func postpone(_ events: [EventRecord], after error: any Error, now: Date, log: Logger) async throws {
        let message = SyncService.describe(error)
        switch Self.kind(of: error, now: now) {
        case .budgetSpent(let resetsAt):
            let until = min(resetsAt, now.addingTimeInterval(3600))
            try await webhooks.postpone(ids: events.map(\.id), error: message, at: until, countAttempt: false)
            log.warning("webhook events wait: the read budget is spent", metadata: [LogKey.events: "\(events.count)", LogKey.until: "\(Timestamp.string(until))"])
        case .transient:
            var failed: [(id: Int64, status: String, resolution: String?, error: String?)] = []
            for event in events {
                if let at = EventRetryPolicy.retryAt(attempt: event.attempts + 1, now: now) {
                    try await webhooks.postpone(ids: [event.id], error: message, at: at)
                } else {
                    failed.append((event.id, "failed", nil, message))
                }
            }
            try await settle(failed, now: now)
            if !events.isEmpty { log.info("webhook events will be retried", metadata: [LogKey.error: "\(message)", LogKey.events: "\(events.count)"]) }
        case .final:
            try await settle(events.map { ($0.id, "failed", nil, message) }, now: now)
        }
    }

    /// How a failed read leaves the events waiting for it.
    private enum FailureKind {
        /// The month's read budget is spent (by the governor, or Intuit): wait for it to reset.
        case budgetSpent(resetsAt: Date)
        /// An outage or throttling: retried with back-off.
        case transient
        /// Anything else: the events fail for an operator.
        case final
    }

    private static func kind(of error: any Error, now: Date) -> FailureKind {
        if let error = error as? CompanyCallError {
            switch error.error {
            case .readQuotaExhausted(let refusal): return .budgetSpent(resetsAt: refusal?.resetsAt ?? ReadBudget.monthEnd(of: ReadBudget.month(of: now)))
            case .unavailable, .throttled, .overBudget: return .transient
            default: return .final
            }
        }
        return .final
    }

    /// Records outcomes and tells subscribers; a store that cannot record them ends the turn (the
    /// company is tried again a minute later, so a failing store never loops on metered reads).
    private func settle(_ outcomes: [(id: Int64, status: String, resolution: String?, error: String?)], now: Date) async throws {
        guard !outcomes.isEmpty else { return }
        for record in try await webhooks.settle(outcomes, now: now) {
            hub.publish(topic: NotificationTopic.webhookEvent, org: record.org, params: record.event)
            if record.status == "failed" {
                var log = logger
                log[metadataKey: LogKey.event] = "\(record.id)"
                log.warning("webhook event failed", metadata: [LogKey.error: "\(record.processError ?? "")"])
            }
        }
    }

    /// The feed's rows as the pure decisions see them.
    static func changes(_ feed: ChangeFeed) -> [FeedChange] {
        feed.invoices.map { FeedChange(entity: .invoice, id: $0.Id, updatedAt: $0.MetaData?.lastUpdated, deleted: $0.isDeleted, voided: $0.invoice?.isVoided ?? false) }
            + feed.payments.map {
                FeedChange(entity: .payment, id: $0.Id, updatedAt: $0.MetaData?.lastUpdated, deleted: $0.isDeleted, voided: $0.isVoided, linkedInvoices: $0.invoiceIDs)
            }
    }
}
