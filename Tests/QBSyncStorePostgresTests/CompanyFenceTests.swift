import Foundation
import QBSyncCore
import QBSyncStore
@testable import QBSyncStorePostgres
import QBTestSupport
import Synchronization
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
    /// The holder's heartbeat renews its lease while its own fenced work is in flight (a token
    /// refresh keeps its transaction open across the call to Intuit): the fence must not make the
    /// heartbeat wait for that work, or a slow Intuit stalls every renewal and takeover of the instance.
    @Test func theHoldersHeartbeatRenewsWhileItsOwnFencedWorkIsInFlight() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                let leases = CompanyLeaseRepository(store: store, rules: LeaseRules(duration: 90))
                let now = Date()
                guard case .held(let lease) = try await leases.acquire(realmID: "r1", instance: "a", now: now) else { Issue.record("not taken"); return }
                let work = try await OpenFencedWork(leases: leases, lease: lease, now: now)

                let renewed = Mutex<CompanyLease??>(nil)
                let renewal = Task {
                    let lease = try await leases.renew(lease, now: now.addingTimeInterval(15))
                    renewed.withLock { $0 = .some(lease) }
                }
                let done = try? await eventually(timeout: .seconds(15), "the renewal, with the holder's work open") { renewed.withLock { $0 } }
                #expect(done != nil, "the heartbeat's renewal waited for the holder's own work in flight")
                work.finish()
                try await renewal.value
                try await work.committed()
                #expect(renewed.withLock { $0 }??.expiresAt == Date(millis: now.addingTimeInterval(105).millis))
                #expect(try await PostgresTestDatabase.all("SELECT checkpoint FROM qb_reconcile_state", as: Int64.self, on: store) == [1])
            }
        }
    }

    /// A takeover waits for the old holder's write already in flight (it passed its fence, so it
    /// commits under its own generation first), and a takeover that skips busy rows skips it.
    @Test func aTakeoverWaitsForTheOldHoldersWriteInFlight() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                let leases = CompanyLeaseRepository(store: store, rules: LeaseRules(duration: 90))
                let t0 = Date()
                guard case .held(let old) = try await leases.acquire(realmID: "r1", instance: "a", now: t0) else { Issue.record("not taken"); return }
                let work = try await OpenFencedWork(leases: leases, lease: old, now: t0)
                let late = t0.addingTimeInterval(100)

                #expect(try await leases.takeExpired(instance: "c", now: late, limit: 10).isEmpty, "a row with a write in flight is skipped")
                let takeover = Task { try await leases.acquire(realmID: "r1", instance: "b", now: late) }
                // The takeover is seen waiting on the row's lock, with the old holder's write still open.
                _ = try await eventually(timeout: .seconds(15), "the takeover waiting for the row") { () -> Bool? in
                    try await PostgresTestDatabase.one(
                        "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name = \("qbsyncd-test-\(schema)")",
                        as: Int64.self, on: store
                    ) > 0 ? true : nil
                }
                work.finish()
                try await work.committed()
                #expect(try await takeover.value == .held(CompanyLease(realmID: "r1", owner: "b", expiresAt: Date(millis: late.addingTimeInterval(90).millis), generation: 2)))
                #expect(try await PostgresTestDatabase.all("SELECT checkpoint FROM qb_reconcile_state", as: Int64.self, on: store) == [1])
                await #expect(throws: CompanyLeaseLost(realmID: "r1", generation: 1)) { try await leases.withFence(old, now: t0) { _ in () } }
            }
        }
    }
}

/// A fenced write of one company held open after its fence check (as a token refresh holds its
/// transaction across the call to Intuit) until ``finish()``; it then writes checkpoint 1.
private struct OpenFencedWork: Sendable {
    let gate: AsyncStream<Void>.Continuation
    let task: Task<Void, any Error>

    init(leases: CompanyLeaseRepository, lease: CompanyLease, now: Date) async throws {
        let (entered, enteredContinuation) = AsyncStream.makeStream(of: Void.self)
        let (gate, gateContinuation) = AsyncStream.makeStream(of: Void.self)
        self.gate = gateContinuation
        task = Task {
            try await leases.withFence(lease, now: now) { connection in
                enteredContinuation.yield()
                for await _ in gate {}
                try await connection.query(
                    "INSERT INTO qb_reconcile_state (realm_id, checkpoint) VALUES (\(lease.realmID), 1)", logger: PostgresTestDatabase.logger
                )
            }
        }
        for await _ in entered { break }
    }

    func finish() { gate.finish() }
    func committed() async throws { try await task.value }
}
