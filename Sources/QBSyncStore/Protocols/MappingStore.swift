public import Foundation
public import QBSyncCore

/// Local entities and their QuickBooks records (`qb_entity_mappings`), the companies' service
/// items and read meter: what the sync, the pipeline and the operator's views use. Each call one
/// transaction; an invoice's change appends its history row in the same one.
public protocol MappingStore: Sendable {
    func find(org: OrgID, realm: String, kind: MappingKind, localID: String) async throws -> MappingRecord?
    func find(org: OrgID, kind: MappingKind, localID: String) async throws -> MappingRecord?
    func findByQBOID(org: OrgID, realm: String, qboType: String, qboID: String) async throws -> MappingRecord?
    func intendCreate(
        org: OrgID, realm: String, kind: MappingKind, localID: String, developmentID: String?, contentHash: Data, now: Date
    ) async throws -> MappingRepository.CreateIntent
    /// Notes an update about to be sent for an entity that has its record (``PendingUpdate``),
    /// kept until the next state is stored.
    func intendUpdate(org: OrgID, realm: String, kind: MappingKind, localID: String, update: PendingUpdate) async throws
    @discardableResult
    func recordSynced(
        org: OrgID, realm: String, kind: MappingKind, localID: String, state: SyncedState, developmentID: String?, now: Date
    ) async throws -> (record: MappingRecord, previous: EntityStatus?, driftFound: Bool)
    func recordError(org: OrgID, realm: String, kind: MappingKind, localID: String, error: String, refused: Bool, now: Date) async throws
    func list(org: OrgID, kind: MappingKind?, status: EntityStatus?, afterID: Int64, limit: Int) async throws -> [MappingRecord]
    func counts(org: OrgID) async throws -> SyncCounts
    func newlyOverdue(today: String) async throws -> [MappingRecord]
    func markOverdue(id: Int64, today: String, now: Date) async throws -> MappingRecord?
    func storeItem(realmID: String, name: String, itemID: String, incomeAccount: String?) async throws
    func item(realmID: String, name: String) async throws -> (id: String, incomeAccount: String?)?
    func reads(realmID: String, month: String) async throws -> Int
}

extension MappingStore {
    @discardableResult
    public func recordSynced(
        org: OrgID, realm: String, kind: MappingKind, localID: String, state: SyncedState, now: Date
    ) async throws -> (record: MappingRecord, previous: EntityStatus?, driftFound: Bool) {
        try await recordSynced(org: org, realm: realm, kind: kind, localID: localID, state: state, developmentID: nil, now: now)
    }

    public func recordError(org: OrgID, realm: String, kind: MappingKind, localID: String, error: String, now: Date) async throws {
        try await recordError(org: org, realm: realm, kind: kind, localID: localID, error: error, refused: false, now: now)
    }

    public func storeItem(realmID: String, name: String, itemID: String) async throws {
        try await storeItem(realmID: realmID, name: name, itemID: itemID, incomeAccount: nil)
    }
}
