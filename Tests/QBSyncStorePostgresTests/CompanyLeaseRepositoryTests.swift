import Foundation
import PostgresNIO
import QBSyncCore
@testable import QBSyncStorePostgres
import Testing

/// Company leases in the shared database, on instants the test chooses (LeaseRules takes times).
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(3)))
struct CompanyLeaseRepositoryTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static func at(_ seconds: TimeInterval) -> Date { t0.addingTimeInterval(seconds) }
    static let realm = "9130000000000001"

    @Test func acquireRenewExpireAndTakeOverWithARisingGenerationFencingTheOldHolder() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                let leases = CompanyLeaseRepository(store: store, rules: LeaseRules(duration: 90))
                // A takes the free company: generation 1, for 90 s
                guard case .held(let a1) = try await leases.acquire(realmID: Self.realm, instance: "a", now: Self.t0) else { Issue.record("not taken"); return }
                #expect(a1.generation == 1 && a1.expiresAt == Self.at(90))
                // B, while A lives, waits
                #expect(try await leases.acquire(realmID: Self.realm, instance: "b", now: Self.at(30)) == .heldByOther(a1))
                // A's heartbeat at 15 s carries it to 105 s; acquiring again renews too
                let a2 = try #require(try await leases.renew(a1, now: Self.at(15)))
                #expect(a2.expiresAt == Self.at(105) && a2.generation == 1)
                #expect(try await leases.acquire(realmID: Self.realm, instance: "a", now: Self.at(20)) == .held(CompanyLease(realmID: Self.realm, owner: "a", expiresAt: Self.at(110), generation: 1)))

                // A pauses past its lease; B takes the company over with the next generation
                guard case .held(let b1) = try await leases.acquire(realmID: Self.realm, instance: "b", now: Self.at(111)) else { Issue.record("not taken over"); return }
                #expect(b1.generation == 2 && b1.owner == "b")
                #expect(try await leases.lease(realmID: Self.realm) == b1)

                // A, back, can neither renew nor write: its fenced write is refused and never runs
                #expect(try await leases.renew(a2, now: Self.at(112)) == nil)
                await #expect(throws: CompanyLeaseLost(realmID: Self.realm, generation: 1)) {
                    try await leases.withFence(a2, now: Self.at(112)) { connection in
                        try await connection.query("INSERT INTO qb_reconcile_state (realm_id, checkpoint) VALUES (\(Self.realm), 1)", logger: PostgresTestDatabase.logger)
                    }
                }
                // B's fenced write goes through
                try await leases.withFence(b1, now: Self.at(112)) { connection in
                    try await connection.query("INSERT INTO qb_reconcile_state (realm_id, checkpoint) VALUES (\(Self.realm), 2)", logger: PostgresTestDatabase.logger)
                }
                #expect(try await PostgresTestDatabase.all("SELECT checkpoint FROM qb_reconcile_state", as: Int64.self, on: store) == [2])
                // Nor past B's own lease
                await #expect(throws: CompanyLeaseLost.self) { try await leases.withFence(b1, now: b1.expiresAt) { _ in () } }

                // B lets go; C takes it at once, one generation up
                try await leases.release(b1, now: Self.at(120))
                guard case .held(let c1) = try await leases.acquire(realmID: Self.realm, instance: "c", now: Self.at(121)) else { Issue.record("not taken after release"); return }
                #expect(c1.generation == 3)
            }
        }
    }

    @Test func instancesRacingForAFreeCompanyLeaveOneHolder() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { first in
                try await PostgresTestDatabase.withStore(schema: schema) { second in
                    let outcomes = try await withThrowingTaskGroup(of: CompanyLeaseRepository.Acquisition.self) { group in
                        for index in 0..<8 {
                            group.addTask {
                                try await CompanyLeaseRepository(store: index.isMultiple(of: 2) ? first : second)
                                    .acquire(realmID: Self.realm, instance: "i\(index)", now: Self.t0)
                            }
                        }
                        return try await group.reduce(into: []) { $0.append($1) }
                    }
                    let holders = outcomes.compactMap { if case .held(let lease) = $0 { lease } else { nil } }
                    #expect(holders.count == 1)
                    #expect(holders.first?.generation == 1)
                    #expect(outcomes.allSatisfy { if case .heldByOther(let lease) = $0 { lease == holders.first } else { true } })
                }
            }
        }
    }

    @Test func deadHoldersCompaniesAreSharedOutOnceEach() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                let leases = CompanyLeaseRepository(store: store, rules: LeaseRules(duration: 90))
                for realm in ["r1", "r2", "r3", "r4"] { _ = try await leases.acquire(realmID: realm, instance: "dead", now: Self.t0) }
                _ = try await leases.acquire(realmID: "r5", instance: "alive", now: Self.at(60))
                // Two instances look for expired leases at the same moment
                async let x = leases.takeExpired(instance: "x", now: Self.at(100), limit: 3)
                async let y = leases.takeExpired(instance: "y", now: Self.at(100), limit: 3)
                let (takenByX, takenByY) = try await (x, y)
                let taken = (takenByX + takenByY).map(\.realmID)
                #expect(Set(taken) == ["r1", "r2", "r3", "r4"] && taken.count == 4, "each dead holder's company once; the live one's none")
                #expect((takenByX + takenByY).allSatisfy { $0.generation == 2 })
            }
        }
    }
}
