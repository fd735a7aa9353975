import Foundation
import Synchronization
import Logging
import QBOClient
import QBSyncCore
import QBSyncStore

/// Pushes developments as QuickBooks customers and demands as invoices: created once, updated in
/// place forever after, never duplicated.
///
/// The intent of a create and its `requestid` are stored before the call and reused on every
/// retry (also after a crash), so Intuit answers a repeat with the first result. Updates are
/// sparse with the stored SyncToken; a stale-object fault re-reads, and retries once unless the
/// record was edited in QuickBooks since the last push (drift: `conflict`, unless forced). A push
/// whose content is unchanged makes no API call. Pushes are in `CustomerSync.swift` and
/// `InvoiceSync.swift`.
final class SyncService: Sendable {
    /// Each org's company (every Intuit call goes through it).
    let access: CompanyAccess
    let mappings: any MappingStore
    let hub: NotificationHub
    let settings: CurrentSettings
    let logger: Logger
    /// Pushes and reads of one entity, one at a time (F9), by `org|kind|localId`.
    let entityLocks = EntityLocks()
    /// Service-item lookups in flight, by `realm|name`.
    private let itemLookups = Mutex<[String: Task<String, any Error>]>([:])

    init(access: CompanyAccess, mappings: any MappingStore, hub: NotificationHub, settings: @escaping CurrentSettings, logger: Logger) {
        self.access = access
        self.mappings = mappings
        self.hub = hub
        self.settings = settings
        self.logger = logger
    }

    /// Wired from the connection parts (the composition root and tests).
    convenience init(connections: ConnectionManager, mappings: any MappingStore, logger: Logger) {
        self.init(access: connections.access, mappings: mappings, hub: connections.notifier.hub, settings: connections.clients.settings, logger: logger)
    }

    /// The org's company, whose reads count against the budget as `reads`; with `realm`, only
    /// while the org is still in that company (F1).
    func company(_ org: OrgID, realm: String? = nil, reads: ReadClass = .event) throws(QBSyncError) -> OrgCompany {
        try access.company(org, realm: realm, reads: reads)
    }

    static func customerMarker(_ id: String) -> String { "BlockManOS development \(id)" }
    static func invoiceMarker(_ id: String) -> String { "BlockManOS demand \(id)" }

    /// Invoices and payments changed since a time, from Intuit's change feed: one metered read.
    func readFeed(org: OrgID, since: Date, readClass: ReadClass) async throws -> ChangeFeed {
        try await company(org, reads: readClass).call { client, session async throws(QBOClientError) -> ChangeFeed in
            try await client.changes(since: since, realmID: session.realmID, accessToken: session.accessToken)
        }
    }

    func notify(_ record: MappingRecord, from previous: EntityStatus) {
        hub.publish(
            topic: NotificationTopic.invoiceStatusChanged, org: record.org,
            params: InvoiceStatusChanged(
                org: record.org.rawValue, demandId: record.localID, qboId: record.qboID ?? "", from: previous.rawValue, to: record.status.rawValue,
                balance: record.balance?.description ?? "0.00", at: Timestamp.string(Date())
            )
        )
        var log = logger
        log[metadataKey: LogKey.org] = "\(record.org)"
        log[metadataKey: LogKey.demand] = "\(record.localID)"
        log.info("invoice status changed", metadata: [LogKey.from: "\(previous.rawValue)", LogKey.to: "\(record.status.rawValue)"])
    }

    /// The service item invoice lines name: cached per company, else found by name, else created.
    /// One lookup per company at a time: concurrent first invoices of a new company each creating
    /// the item met Intuit's duplicate-name refusal (the sync benchmark found this).
    func serviceItem(org: OrgID, realm: String, name: String, company: OrgCompany) async throws -> String {
        if let cached = try await mappings.item(realmID: realm, name: name)?.id { return cached }
        let key = realm + "|" + name
        let lookup = itemLookups.withLock { lookups in
            if let running = lookups[key] { return running }
            let lookup = Task { try await self.findOrCreateItem(org: org, realm: realm, name: name, company: company) }
            lookups[key] = lookup
            return lookup
        }
        defer { itemLookups.withLock { if $0[key] == lookup { $0[key] = nil } } }
        return try await lookup.value
    }

    /// Intuit refused the request with a fault (6240, 6140, 2050, …): nothing was made, so a
    /// corrected retry needs a new requestid.
    static func isRefusal(_ error: any Error) -> Bool {
        (error as? CompanyCallError)?.fault != nil
    }

    /// What a caller is told of an error, for stored errors and logs.
    static func describe(_ error: any Error) -> String {
        if let error = error as? CompanyCallError { return error.description }
        return (error as? QBSyncError)?.rpcError.message ?? "\(type(of: error))"
    }

    /// Whether an error is Intuit's answer or the daemon's own refusal (not a bug or a store failure).
    static func isAnswer(_ error: any Error) -> Bool { error is CompanyCallError || error is QBSyncError }

    /// Today, as `YYYY-MM-DD` in UTC (the company's time zone is not known to the daemon).
    static func today(_ date: Date = Date()) -> String { String(Timestamp.string(date).prefix(10)) }
}

extension SyncService {
    /// Whether a create's answer may hold an earlier attempt's content, so this push's content
    /// must follow as an update (F9): Intuit answers a repeated requestid with the first
    /// request's result, and a record found again was made by an earlier attempt. The intent's
    /// stored hash says whether the first attempt sent other content (unknown for intents stored
    /// before 0.2); the answer's fields catch a record found again.
    static func holdsEarlierContent(intent: MappingRepository.CreateIntent?, hash: Data, adopted: Bool, differs: Bool) -> Bool {
        guard let intent else { return false }
        if !intent.isNew, intent.sentContentHash != hash { return true }
        return (adopted || !intent.isNew) && differs
    }
}
