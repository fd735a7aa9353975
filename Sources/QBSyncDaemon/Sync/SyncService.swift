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
/// sparse with the stored SyncToken; a stale-object fault re-reads and retries once. A push whose
/// content is unchanged makes no API call.
final class SyncService: Sendable {
    /// Attempts for 5xx, timeouts and dropped connections, with jittered back-off between them.
    static let attempts = 3

    let connections: ConnectionManager
    let mappings: MappingRepository
    let logger: Logger
    /// Service-item lookups in flight, by `realm|name`.
    private let itemLookups = Mutex<[String: Task<String, any Error>]>([:])

    init(connections: ConnectionManager, mappings: MappingRepository, logger: Logger) {
        self.connections = connections
        self.mappings = mappings
        self.logger = logger
    }

    private var hub: NotificationHub { connections.hub }

    /// A client whose reads count against the budget as `readClass`.
    private func accounting(_ readClass: ReadClass = .event) throws(QBSyncError) -> AccountingClient {
        let settings = connections.state.settings
        guard let endpoints = QBOEndpoints(settings.quickBooks) else { throw .integrationDisabled(missing: settings.integrationMissing) }
        return AccountingClient(http: connections.http, endpoints: endpoints, meter: connections.governor.meter(readClass))
    }

    static func customerMarker(_ id: String) -> String { "BlockManOS development \(id)" }
    static func invoiceMarker(_ id: String) -> String { "BlockManOS demand \(id)" }

    // MARK: Customers

    func syncCustomer(org: OrgID, development: DevelopmentInput) async throws -> Mapping {
        try development.validate()
        let client = try accounting()
        let hash = SyncValidation.contentHash(development)
        let existing = try await mappings.find(org: org, kind: .development, localID: development.id)
        if let existing, existing.qboID != nil, existing.contentHash == hash { return existing.mapping }

        let address = development.address.map {
            CustomerPayload.Address(line1: $0.line1, line2: $0.line2, city: $0.city, region: $0.region, postalCode: $0.postalCode, country: $0.country)
        }
        let base = CustomerPayload(displayName: development.name.trimmingCharacters(in: .whitespaces), email: development.email, phone: development.phone, address: address, notes: Self.customerMarker(development.id))
        let requestID: String? = existing?.qboID == nil
            ? try await mappings.intendCreate(org: org, kind: .development, localID: development.id, developmentID: nil, now: Date()) : nil
        do {
            let customer = try await retrying(org: org) { connection async throws(QBOClientError) -> QBOCustomer in
                if let existing, let qboID = existing.qboID {
                    var update = base
                    update.Id = qboID
                    update.SyncToken = existing.syncToken
                    update.sparse = true
                    do throws(QBOClientError) {
                        return try await client.saveCustomer(update, realmID: connection.realmID, requestID: nil, accessToken: connection.tokens.accessToken)
                    } catch .rejected(let fault) where fault.code == "5010" {
                        update.SyncToken = try await client.readCustomer(id: qboID, realmID: connection.realmID, accessToken: connection.tokens.accessToken).SyncToken
                        return try await client.saveCustomer(update, realmID: connection.realmID, requestID: nil, accessToken: connection.tokens.accessToken)
                    }
                }
                do throws(QBOClientError) {
                    return try await client.saveCustomer(base, realmID: connection.realmID, requestID: requestID, accessToken: connection.tokens.accessToken)
                } catch .rejected(let fault) where fault.code == "6240" {
                    // The name is taken. Only a customer this daemon made (its marker in Notes: a create
                    // whose answer was lost) is adopted; anyone else's is never taken over.
                    let sql = "SELECT * FROM Customer WHERE DisplayName = \(AccountingClient.quoted(base.DisplayName))"
                    let found = try await client.query(sql, entity: "Customer", as: QBOCustomer.self, realmID: connection.realmID, accessToken: connection.tokens.accessToken)
                    if let ours = found.first(where: { $0.Notes == base.Notes }) { return ours }
                    throw .rejected(fault)
                }
            }
            let state = SyncedState(qboID: customer.Id, syncToken: customer.SyncToken, status: .synced, docNumber: nil, total: nil, balance: nil, dueDate: nil, qboState: .active, contentHash: hash)
            return try await mappings.recordSynced(org: org, kind: .development, localID: development.id, state: state, now: Date()).record.mapping
        } catch {
            try? await mappings.recordError(org: org, kind: .development, localID: development.id, error: Self.describe(error), now: Date())
            throw error
        }
    }

    // MARK: Invoices

    func syncInvoice(org: OrgID, demand: DemandInput) async throws -> Mapping {
        try demand.validate()
        let client = try accounting()
        guard let customer = try await mappings.find(org: org, kind: .development, localID: demand.developmentId), let customerID = customer.qboID else {
            throw QBSyncError.customerNotSynced(org: org, developmentID: demand.developmentId)
        }
        let existing = try await mappings.find(org: org, kind: .demand, localID: demand.id)
        if let existing, existing.qboState != .active {
            throw QBSyncError.conflict(detail: "the invoice of demand \(demand.id) is \(existing.qboState.rawValue) in QuickBooks and cannot be updated")
        }
        let itemName = connections.state.settings.invoiceItemName
        let hash = SyncValidation.contentHash(demand, extra: customerID + "|" + itemName)
        if let existing, existing.qboID != nil, existing.contentHash == hash { return existing.mapping }
        let itemID = try await serviceItem(org: org, name: itemName, client: client)
        let payload = InvoicePayload(
            customerID: customerID, docNumber: demand.docNumber, txnDate: demand.txnDate, dueDate: demand.dueDate, memo: demand.memo,
            privateNote: Self.invoiceMarker(demand.id), lines: demand.lines.map { InvoicePayload.Line(amount: $0.amount, description: $0.description, itemID: itemID) }
        )
        let hadPending = existing?.pendingRequestID != nil
        let requestID: String? = existing?.qboID == nil
            ? try await mappings.intendCreate(org: org, kind: .demand, localID: demand.id, developmentID: demand.developmentId, now: Date()) : nil
        do {
            let invoice = try await retrying(org: org) { connection async throws(QBOClientError) -> QBOInvoice in
                let realm = connection.realmID
                let token = connection.tokens.accessToken
                if let existing, let qboID = existing.qboID {
                    var update = payload
                    update.Id = qboID
                    update.SyncToken = existing.syncToken
                    update.sparse = true
                    do throws(QBOClientError) {
                        return try await client.saveInvoice(update, realmID: realm, requestID: nil, accessToken: token)
                    } catch .rejected(let fault) where fault.code == "5010" {
                        update.SyncToken = try await client.readInvoice(id: qboID, realmID: realm, accessToken: token).SyncToken
                        return try await client.saveInvoice(update, realmID: realm, requestID: nil, accessToken: token)
                    }
                }
                // A create that was in flight before (a crash, or an outage longer than Intuit keeps
                // requestids): look for the invoice it may have made before sending it again.
                if hadPending, let docNumber = demand.docNumber {
                    let sql = "SELECT * FROM Invoice WHERE DocNumber = \(AccountingClient.quoted(docNumber))"
                    let found = try await client.query(sql, entity: "Invoice", as: QBOInvoice.self, realmID: realm, accessToken: token)
                    if let ours = found.first(where: { $0.PrivateNote == payload.PrivateNote }) { return ours }
                }
                return try await client.saveInvoice(payload, realmID: realm, requestID: requestID, accessToken: token)
            }
            return try await record(invoice, org: org, demandID: demand.id, developmentID: demand.developmentId, hash: hash)
        } catch let error as QBSyncError {
            throw try await conflictIfGone(error, org: org, demandID: demand.id, existing: existing)
        } catch {
            try? await mappings.recordError(org: org, kind: .demand, localID: demand.id, error: Self.describe(error), now: Date())
            throw error
        }
    }

    /// Reads the invoice from QuickBooks and updates its balance and status.
    func refreshInvoice(org: OrgID, demandID: String, readClass: ReadClass = .operator) async throws -> Mapping {
        let client = try accounting(readClass)
        guard let existing = try await mappings.find(org: org, kind: .demand, localID: demandID), let qboID = existing.qboID else {
            throw QBSyncError.notFound(what: "demand \(demandID)")
        }
        do {
            let invoice = try await retrying(org: org) { connection async throws(QBOClientError) -> QBOInvoice in
                return try await client.readInvoice(id: qboID, realmID: connection.realmID, accessToken: connection.tokens.accessToken)
            }
            return try await record(invoice, org: org, demandID: demandID, developmentID: nil, hash: nil)
        } catch QBSyncError.qboRejected(let fault) where fault.code == "610" {
            return try await markGone(existing, state: .deleted)
        }
    }

    /// Invoices and payments changed since a time, from Intuit's change feed: one metered read.
    func readFeed(org: OrgID, since: Date, readClass: ReadClass) async throws -> ChangeFeed {
        let client = try accounting(readClass)
        return try await retrying(org: org) { connection async throws(QBOClientError) -> ChangeFeed in
            try await client.changes(since: since, realmID: connection.realmID, accessToken: connection.tokens.accessToken)
        }
    }

    /// Applies a change from the feed to its mapping, without reading the invoice again.
    func apply(_ row: CDCInvoice, to mapping: MappingRecord) async throws -> Mapping {
        if row.isDeleted { return try await markGone(mapping, state: .deleted) }
        guard let invoice = row.invoice else { return mapping.mapping }
        return try await record(invoice, org: mapping.org, demandID: mapping.localID, developmentID: nil, hash: nil)
    }

    /// Records an invoice as QuickBooks answered it and notifies a status change.
    private func record(_ invoice: QBOInvoice, org: OrgID, demandID: String, developmentID: String?, hash: Data?) async throws -> Mapping {
        guard let total = Money(exactly: invoice.TotalAmt), let balance = Money(exactly: invoice.Balance) else {
            throw QBSyncError.qboUnavailable(detail: "QuickBooks answered an amount that is not a two-place decimal")
        }
        let voided = invoice.isVoided
        let status = EntityStatus.invoice(total: total, balance: balance, dueDate: invoice.DueDate, voided: voided, today: Self.today())
        let state = SyncedState(
            qboID: invoice.Id, syncToken: invoice.SyncToken, status: status, docNumber: invoice.DocNumber, total: total, balance: balance, dueDate: invoice.DueDate,
            qboState: voided ? .voided : .active, contentHash: hash, qboUpdatedAt: invoice.MetaData?.lastUpdated
        )
        let (record, previous) = try await mappings.recordSynced(org: org, kind: .demand, localID: demandID, state: state, developmentID: developmentID, now: Date())
        if let previous, previous != status { notify(record, from: previous) }
        return record.mapping
    }

    /// An update refused because the invoice was deleted (610) or voided is a `conflict`.
    private func conflictIfGone(_ error: QBSyncError, org: OrgID, demandID: String, existing: MappingRecord?) async throws -> QBSyncError {
        guard let existing, existing.qboID != nil, case .qboRejected(let fault) = error else {
            try? await mappings.recordError(org: org, kind: .demand, localID: demandID, error: Self.describe(error), now: Date())
            return error
        }
        if fault.code == "610" {
            _ = try await markGone(existing, state: .deleted)
        } else if let refreshed = try? await refreshInvoice(org: org, demandID: demandID, readClass: .event), refreshed.status == .voided {
            // refreshed and recorded as voided
        } else {
            try? await mappings.recordError(org: org, kind: .demand, localID: demandID, error: Self.describe(error), now: Date())
            return error
        }
        return .conflict(detail: "the invoice of demand \(demandID) was voided or deleted in QuickBooks and cannot be updated")
    }

    private func markGone(_ existing: MappingRecord, state qboState: QBOState) async throws -> Mapping {
        let state = SyncedState(
            qboID: existing.qboID!, syncToken: existing.syncToken ?? "0", status: .voided, docNumber: existing.docNumber, total: existing.total,
            balance: existing.balance, dueDate: existing.dueDate, qboState: qboState, contentHash: nil
        )
        let (record, previous) = try await mappings.recordSynced(org: existing.org, kind: .demand, localID: existing.localID, state: state, now: Date())
        if let previous, previous != .voided { notify(record, from: previous) }
        return record.mapping
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
        log.info("invoice status changed", metadata: ["from": "\(previous.rawValue)", "to": "\(record.status.rawValue)"])
    }

    /// The service item invoice lines name: cached per company, else found by name, else created.
    /// One lookup per company at a time: concurrent first invoices of a new company each creating
    /// the item met Intuit's duplicate-name refusal (the sync benchmark found this).
    private func serviceItem(org: OrgID, name: String, client: AccountingClient) async throws -> String {
        guard let realm = try await connections.repository.connection(org)?.realmID else { throw QBSyncError.orgNotConnected(org) }
        if let cached = try await mappings.itemID(realmID: realm, name: name) { return cached }
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

    private func findOrCreateItem(org: OrgID, realm: String, name: String, client: AccountingClient) async throws -> String {
        let sql = "SELECT * FROM Item WHERE Name = \(AccountingClient.quoted(name))"
        let item = try await retrying(org: org) { connection async throws(QBOClientError) -> QBONamed in
            if let found = try await client.query(sql, entity: "Item", as: QBONamed.self, realmID: connection.realmID, accessToken: connection.tokens.accessToken).first {
                return found
            }
            do throws(QBOClientError) {
                return try await client.createServiceItem(name: name, realmID: connection.realmID, accessToken: connection.tokens.accessToken)
            } catch .rejected(let fault) where fault.code == "6240" {
                // Made meanwhile by someone else (a user, another app): adopt it.
                if let found = try await client.query(sql, entity: "Item", as: QBONamed.self, realmID: connection.realmID, accessToken: connection.tokens.accessToken).first {
                    return found
                }
                throw .rejected(fault)
            }
        }
        try await mappings.storeItem(realmID: realm, name: name, itemID: item.Id)
        return item.Id
    }

    /// Runs a QuickBooks call with the org's token; 5xx, timeouts and dropped connections are
    /// retried with jittered back-off, then `qbo_unavailable`. (The client's meter counts reads.)
    private func retrying<T: Sendable>(org: OrgID, _ call: (Connection) async throws(QBOClientError) -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await connections.withAccessToken(org: org, call)
            } catch QBSyncError.qboUnavailable(let detail) where attempt < Self.attempts {
                var log = logger
                log[metadataKey: LogKey.org] = "\(org)"
                log.info("QuickBooks unavailable; retrying", metadata: [LogKey.error: "\(detail)", "attempt": "\(attempt)"])
                try await Task.sleep(for: .milliseconds(Int(Double(250 * (1 << (attempt - 1))) * Double.random(in: 0.5...1.5))))
            }
        }
    }

    static func describe(_ error: any Error) -> String {
        (error as? QBSyncError)?.rpcError.message ?? "\(type(of: error))"
    }

    /// Today, as `YYYY-MM-DD` in UTC (the company's time zone is not known to the daemon).
    static func today(_ date: Date = Date()) -> String { String(Timestamp.string(date).prefix(10)) }
    static func month(_ date: Date = Date()) -> String { String(Timestamp.string(date).prefix(7)) }
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
