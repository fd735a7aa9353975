public import QBSyncCore

/// The append-only history of invoice states and what `invoice.explain` and `audit.verify` read
/// from it. Rows are appended by ``MappingStore`` in the transaction that made the change.
public protocol InvoiceHistoryStore: Sendable {
    func history(org: OrgID, demandID: String) async throws -> [InvoiceHistoryRow]
    func events(realmID: String, qboID: String, limit: Int) async throws -> [InvoiceEventRecord]
    func latest(org: OrgID?) async throws -> [(org: OrgID, demandID: String, stored: EntityStatus, latest: InvoiceHistoryRow?)]
}

extension InvoiceHistoryStore {
    public func events(realmID: String, qboID: String) async throws -> [InvoiceEventRecord] {
        try await events(realmID: realmID, qboID: qboID, limit: 1000)
    }
}
