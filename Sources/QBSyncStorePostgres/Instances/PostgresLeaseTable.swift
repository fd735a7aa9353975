public import Foundation
public import QBSyncCore
public import QBSyncStore

/// The instances' heartbeat table on PostgreSQL: ``InstanceRegistry`` for who is alive,
/// ``CompanyLeaseRepository`` for who holds which company, and the connected companies as the work.
public struct PostgresLeaseTable: LeaseTable {
    let registry: InstanceRegistry
    let repository: CompanyLeaseRepository
    let store: PostgresStore

    public init(store: PostgresStore, rules: LeaseRules) {
        self.store = store
        registry = InstanceRegistry(store: store)
        repository = CompanyLeaseRepository(store: store, rules: rules)
    }

    public func beat(instance: String, now: Date) async throws -> Int {
        try await registry.beat(instance: instance, now: now, window: repository.rules.aliveWindow)
    }

    public func leases() async throws -> [CompanyLease] { try await repository.all() }

    public func acquire(realmID: String, instance: String, now: Date) async throws -> CompanyLease? {
        switch try await repository.acquire(realmID: realmID, instance: instance, now: now) {
        case .held(let lease): lease
        case .heldByOther: nil
        }
    }

    public func renew(_ lease: CompanyLease, now: Date) async throws -> CompanyLease? { try await repository.renew(lease, now: now) }

    public func release(_ lease: CompanyLease, now: Date) async throws { try await repository.release(lease, now: now) }

    public func leave(instance: String, now: Date) async throws {
        try await repository.releaseAll(owner: instance, now: now)
        try await registry.leave(instance: instance)
    }

    /// Every company an org is bound to (connected, or waiting to connect again: its events still
    /// have to fail visibly), and any with pending events.
    public func companies() async throws -> Set<String> {
        let logger = store.logger
        return try await store.read { connection in
            Set(
                try await connection.collect(
                    """
                    SELECT realm_id FROM qb_configs WHERE realm_id IS NOT NULL AND status <> 'disconnected'
                    UNION SELECT realm_id FROM qb_webhook_events WHERE status = 'pending'
                    """,
                    logger: logger, String.self
                )
            )
        }
    }
}
