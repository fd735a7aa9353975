import Foundation
import QBSyncCore
import QBSyncStore

/// `customer.sync`: a development as a QBO customer; a second call updates the same customer.
/// `force` overwrites an edit made in QuickBooks (else `conflict` with `data.changes`).
struct CustomerSyncMethod: RPCMethod {
    static let name = "customer.sync"
    static let access = RPCAccess.write
    static let requiresIntegration = true
    struct Params: Decodable, Sendable {
        var org: OrgID
        var development: DevelopmentInput
        var force: Bool?
    }
    let sync: SyncService

    func handle(_ params: Params, context: RPCContext) async throws -> Mapping {
        try await sync.syncCustomer(org: params.org, development: params.development, force: params.force ?? false)
    }
}

/// `invoice.sync`: a demand as a QBO invoice; a second call updates the same invoice.
/// `force` overwrites an edit made in QuickBooks (else `conflict` with `data.changes`).
struct InvoiceSyncMethod: RPCMethod {
    static let name = "invoice.sync"
    static let access = RPCAccess.write
    static let requiresIntegration = true
    struct Params: Decodable, Sendable {
        var org: OrgID
        var demand: DemandInput
        var force: Bool?
    }
    let sync: SyncService

    func handle(_ params: Params, context: RPCContext) async throws -> Mapping {
        try await sync.syncInvoice(org: params.org, demand: params.demand, force: params.force ?? false)
    }
}

/// `invoice.refresh`: the demand's invoice freshly read from QBO.
struct InvoiceRefreshMethod: RPCMethod {
    static let name = "invoice.refresh"
    static let access = RPCAccess.write
    static let requiresIntegration = true
    struct Params: Decodable, Sendable {
        var org: OrgID
        var demandId: String
    }
    let sync: SyncService

    func handle(_ params: Params, context: RPCContext) async throws -> Mapping {
        try await sync.refreshInvoice(org: params.org, demandID: params.demandId)
    }
}

/// `entity.list`: synced entities in insertion order, with an opaque cursor that stays correct
/// while rows are added.
struct EntityListMethod: RPCMethod {
    static let name = "entity.list"
    static let access = RPCAccess.read
    struct Params: Decodable, Sendable {
        var org: OrgID
        var kind: MappingKind?
        var status: EntityStatus?
        var limit: Int?
        var cursor: String?
    }
    struct Result: Encodable, Sendable {
        var entities: [Mapping]
        var nextCursor: String?

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(entities, forKey: .entities)
            try c.encode(nextCursor, forKey: .nextCursor)
        }
        enum CodingKeys: String, CodingKey { case entities, nextCursor }
    }
    let mappings: MappingRepository

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
    static let name = "sync.summary"
    static let access = RPCAccess.read
    struct Params: Decodable, Sendable { var org: OrgID }
    struct Result: Encodable, Sendable {
        struct Invoices: Encodable, Sendable {
            var Outstanding: Int
            var Paid: Int
            var Overdue: Int
            var Voided: Int
            var total: Int
        }
        struct Reads: Encodable, Sendable {
            var month: String
            var count: Int
        }
        var customers: Int
        var invoices: Invoices
        /// Added: metered reads this month for the org's company.
        var reads: Reads
    }
    let mappings: MappingRepository
    let connections: ConnectionManager

    func handle(_ params: Params, context: RPCContext) async throws -> Result {
        let counts = try await mappings.counts(org: params.org)
        let month = ReadBudget.month(of: Date())
        let realm = try await connections.repository.realm(of: params.org)
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
