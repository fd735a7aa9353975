import Foundation
import QBSyncCore
import QBSyncStore

/// `customer.sync`: a development as a QBO customer; a second call updates the same customer.
/// `force` overwrites an edit made in QuickBooks (else `conflict` with `data.changes`).
struct CustomerSyncMethod: CompanyMethod {
    typealias Call = CustomerSyncCall
    static let access = RPCAccess.write
    static let requiresIntegration = true
    let sync: SyncService

    func carryOut(_ params: Params) async throws -> Mapping {
        try await sync.syncCustomer(org: params.org, development: params.development, force: params.force ?? false)
    }
}

/// `invoice.sync`: a demand as a QBO invoice; a second call updates the same invoice.
/// `force` overwrites an edit made in QuickBooks (else `conflict` with `data.changes`).
struct InvoiceSyncMethod: CompanyMethod {
    typealias Call = InvoiceSyncCall
    static let access = RPCAccess.write
    static let requiresIntegration = true
    let sync: SyncService

    func carryOut(_ params: Params) async throws -> Mapping {
        try await sync.syncInvoice(org: params.org, demand: params.demand, force: params.force ?? false)
    }
}

/// `invoice.refresh`: the demand's invoice freshly read from QBO.
struct InvoiceRefreshMethod: CompanyMethod {
    typealias Call = InvoiceRefreshCall
    static let access = RPCAccess.write
    static let requiresIntegration = true
    let sync: SyncService

    func carryOut(_ params: Params) async throws -> Mapping {
        try await sync.refreshInvoice(org: params.org, demandID: params.demandId)
    }
}

/// `entity.list`: synced entities in insertion order, with an opaque cursor that stays correct
/// while rows are added.
struct EntityListMethod: RPCMethod {
    typealias Call = EntityListCall
    typealias Result = Call.Result
    static let access = RPCAccess.read
    let mappings: any MappingStore

    func handle(_ params: Params, context: RPCContext) async throws -> Result {
        let limit = try ListCursor.limit(params.limit)
        let after = try params.cursor.map { cursor throws(QBSyncError) in try ListCursor.parse(cursor, prefix: "m") } ?? 0
        let rows = try await mappings.list(org: params.org, kind: params.kind, status: params.status, afterID: after, limit: limit)
        let next = rows.count == limit ? rows.last.map { ListCursor.make(prefix: "m", id: $0.id) } : nil
        return Result(entities: rows.map(\.mapping), nextCursor: next)
    }
}

/// `sync.summary`: counts, and the month's metered QuickBooks reads (Intuit meters reads per company).
struct SyncSummaryMethod: RPCMethod {
    typealias Call = SyncSummaryCall
    typealias Result = Call.Result
    static let access = RPCAccess.read
    let mappings: any MappingStore
    /// Which company the org is in now.
    let grants: any ConnectionStore

    func handle(_ params: Params, context: RPCContext) async throws -> Result {
        let counts = try await mappings.counts(org: params.org)
        let month = ReadBudget.month(of: Date())
        let realm = try await grants.realm(of: params.org)
        var reads = 0
        if let realm { reads = try await mappings.reads(realmID: realm, month: month) }
        func count(_ status: EntityStatus) -> Int { counts.invoices[status, default: 0] }
        return Result(
            customers: counts.customers,
            invoices: .init(Outstanding: count(.outstanding), Paid: count(.paid), Overdue: count(.overdue), Voided: count(.voided), total: counts.invoices.values.reduce(0, +)),
            reads: .init(month: month, count: reads)
        )
    }
}
