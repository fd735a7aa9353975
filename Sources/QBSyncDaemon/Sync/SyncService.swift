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
    /// Attempts for 5xx, timeouts and dropped connections, with jittered back-off between them.
    static let attempts = 3

    let connections: ConnectionManager
    let mappings: MappingRepository
    let logger: Logger
    /// Pushes and reads of one entity, one at a time (F9), by `org|kind|localId`.
    let entityLocks = EntityLocks()
    /// Service-item lookups in flight, by `realm|name`.
    private let itemLookups = Mutex<[String: Task<String, any Error>]>([:])

    init(connections: ConnectionManager, mappings: MappingRepository, logger: Logger) {
        self.connections = connections
        self.mappings = mappings
        self.logger = logger
    }

    var hub: NotificationHub { connections.hub }

    /// A client whose reads count against the budget as `readClass`.
    func accounting(_ readClass: ReadClass = .event) throws(QBSyncError) -> AccountingClient {
        let settings = connections.state.settings
        guard let endpoints = QBOEndpoints(settings.quickBooks) else { throw .integrationDisabled(missing: settings.integrationMissing) }
        return AccountingClient(http: connections.http, endpoints: endpoints, meter: connections.governor.meter(readClass))
    }

    static func customerMarker(_ id: String) -> String { "BlockManOS development \(id)" }
    static func invoiceMarker(_ id: String) -> String { "BlockManOS demand \(id)" }

    /// Invoices and payments changed since a time, from Intuit's change feed: one metered read.
    func readFeed(org: OrgID, since: Date, readClass: ReadClass) async throws -> ChangeFeed {
        let client = try accounting(readClass)
        return try await retrying(org: org) { connection async throws(QBOClientError) -> ChangeFeed in
            try await client.changes(since: since, realmID: connection.realmID, accessToken: connection.tokens.accessToken)
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
    func serviceItem(org: OrgID, realm: String, name: String, client: AccountingClient) async throws -> String {
        if let cached = try await mappings.item(realmID: realm, name: name)?.id { return cached }
        let key = realm + "|" + name
        let lookup = itemLookups.withLock { lookups in
            if let running = lookups[key] { return running }
            let lookup = Task { try await self.findOrCreateItem(org: org, realm: realm, name: name, client: client) }
            lookups[key] = lookup
            return lookup
        }
        defer { itemLookups.withLock { if $0[key] == lookup { $0[key] = nil } } }
        return try await lookup.value
    }

    /// Runs a QuickBooks call with the org's token; 5xx, timeouts and dropped connections are
    /// retried with jittered back-off, then `qbo_unavailable`. (The client's meter counts reads.)
    /// With `realm`, only while the org is still in that company.
    func retrying<T: Sendable>(org: OrgID, realm: String? = nil, _ call: (Connection) async throws(QBOClientError) -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await connections.withAccessToken(org: org, realm: realm, call)
            } catch QBSyncError.qboUnavailable(let detail) where attempt < Self.attempts {
                var log = logger
                log[metadataKey: LogKey.org] = "\(org)"
                log.info("QuickBooks unavailable; retrying", metadata: [LogKey.error: "\(detail)", LogKey.attempt: "\(attempt)"])
                try await Task.sleep(for: .milliseconds(Int(Double(250 * (1 << (attempt - 1))) * Double.random(in: 0.5...1.5))))
            }
        }
    }

    /// Intuit refused the request with a fault (6240, 6140, 2050, …): nothing was made, so a
    /// corrected retry needs a new requestid.
    static func isRefusal(_ error: any Error) -> Bool {
        if case .qboRejected = error as? QBSyncError { return true }
        return false
    }

    static func describe(_ error: any Error) -> String {
        (error as? QBSyncError)?.rpcError.message ?? "\(type(of: error))"
    }

    /// Today, as `YYYY-MM-DD` in UTC (the company's time zone is not known to the daemon).
    static func today(_ date: Date = Date()) -> String { String(Timestamp.string(date).prefix(10)) }
}

/// `invoice.status_changed` notification params.
struct InvoiceStatusChanged: Encodable, Sendable {
    var org: String
    var demandId: String
    var qboId: String
    var from: String
    var to: String
    var balance: String
    var at: String
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
