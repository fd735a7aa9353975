import Foundation
import QBSyncCore
import QBSyncStore
@testable import QBSyncStorePostgres
import Testing

/// Every write made under a company's lease (the task-local ``CompanyFence``) is fenced by the
/// store itself: the repositories need no lease argument, and a holder that lost its lease writes nothing.
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(3)))
struct CompanyFenceTests {
    @Test func aWriteUnderALostLeaseIsRefusedWholeAndUnderTheCurrentOneGoesThrough() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                let leases = CompanyLeaseRepository(store: store, rules: LeaseRules(duration: 90))
                let orgs = PostgresOrgRepository(store: store)
                let now = Date()
                guard case .held(let old) = try await leases.acquire(realmID: "r1", instance: "a", now: now) else { Issue.record("not taken"); return }
                try await leases.release(old, now: now)
                guard case .held(let current) = try await leases.acquire(realmID: "r1", instance: "b", now: now) else { Issue.record("not taken over"); return }

                await #expect(throws: CompanyLeaseLost(realmID: "r1", generation: old.generation)) {
                    try await CompanyFence.$lease.withValue(old) { try await orgs.ensure(OrgID("org-a")!, now: now) }
                }
                #expect(try await orgs.find(OrgID("org-a")!) == nil, "nothing of the refused transaction was written")
                #expect(store.health.snapshot.writable, "a refused fence is not a store failure")

                try await CompanyFence.$lease.withValue(current) { try await orgs.ensure(OrgID("org-b")!, now: now) }
                #expect(try await orgs.find(OrgID("org-b")!) != nil)
                // Unfenced work (not tied to one company) is not checked.
                try await orgs.ensure(OrgID("org-c")!, now: now)
                #expect(try await orgs.find(OrgID("org-c")!) != nil)
            }
        }
    }
}
