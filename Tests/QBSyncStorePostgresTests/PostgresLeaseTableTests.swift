import Foundation
import QBSyncCore
import QBSyncStore
@testable import QBSyncStorePostgres
import Testing

/// The heartbeat table the instances share: who is alive, who holds which company, what has work.
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(3)))
struct PostgresLeaseTableTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static func at(_ seconds: TimeInterval) -> Date { t0.addingTimeInterval(seconds) }

    @Test func instancesAreCountedWhileTheyBeatAndLeasesAreListedAndHandedOver() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                let table = PostgresLeaseTable(store: store, rules: LeaseRules(duration: 90))
                #expect(try await table.beat(instance: "a", now: Self.t0) == 1)
                #expect(try await table.beat(instance: "b", now: Self.at(10)) == 2)
                // a falls silent: counted for two heartbeats (2 × 15 s), then no longer
                #expect(try await table.beat(instance: "b", now: Self.at(29)) == 2)
                #expect(try await table.beat(instance: "b", now: Self.at(31)) == 1)
                #expect(try await table.beat(instance: "b", now: Self.at(95)) == 1)
                // and a graceful leave counts b out at once
                try await table.leave(instance: "b", now: Self.at(95))
                #expect(try await table.beat(instance: "c", now: Self.at(96)) == 1)

                let held = try #require(try await table.acquire(realmID: "r1", instance: "c", now: Self.at(96)))
                #expect(try await table.acquire(realmID: "r1", instance: "d", now: Self.at(97)) == nil, "a live holder keeps it")
                #expect(try await table.leases() == [held])
                try await table.release(held, now: Self.at(98))
                let next = try #require(try await table.acquire(realmID: "r1", instance: "d", now: Self.at(99)))
                #expect(next.owner == "d" && next.generation == held.generation + 1, "a released company is taken at once, fenced anew")
                #expect(try await table.renew(held, now: Self.at(100)) == nil)
                #expect(try await table.companies().isEmpty, "no company is connected yet")
            }
        }
    }

    @Test func leavingGivesBackEveryLeaseTheInstanceHoldsAsStored() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                let table = PostgresLeaseTable(store: store, rules: LeaseRules(duration: 90))
                _ = try await table.beat(instance: "a", now: Self.t0)
                // Two leases a holds, whether or not its heartbeat heard that it took them, and one of b's.
                for realm in ["r1", "r2"] { _ = try #require(try await table.acquire(realmID: realm, instance: "a", now: Self.t0)) }
                let kept = try #require(try await table.acquire(realmID: "r3", instance: "b", now: Self.t0))
                try await table.leave(instance: "a", now: Self.at(1))
                #expect(try await table.beat(instance: "c", now: Self.at(2)) == 1, "a is counted out")
                for realm in ["r1", "r2"] {
                    let taken = try #require(try await table.acquire(realmID: realm, instance: "c", now: Self.at(2)), "\(realm) is free at once")
                    #expect(taken.generation == 2)
                }
                #expect(try await table.acquire(realmID: "r3", instance: "c", now: Self.at(2)) == nil, "another instance's lease is untouched")
                #expect(try await table.renew(kept, now: Self.at(3)) != nil)
            }
        }
    }
}
