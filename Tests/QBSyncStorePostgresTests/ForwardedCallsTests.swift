import Foundation
import QBSyncCore
import QBSyncStore
@testable import QBSyncStorePostgres
import Testing

/// Calls forwarded to a company's holder: claimed once per lease generation (again by the next
/// holder when the one that claimed it died), never after they expire, answered and removed, and
/// sealed at rest.
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(3)))
struct ForwardedCallsTests {
    static let vault = TokenVault(key: .generate())

    static func lease(_ realm: String, _ owner: String, generation: Int64) -> CompanyLease {
        CompanyLease(realmID: realm, owner: owner, expiresAt: Date().addingTimeInterval(90), generation: generation)
    }

    static func call(_ id: String, realm: String = "r1") -> ForwardedCall {
        ForwardedCall(id: id, realmID: realm, method: "invoice.sync", params: Data(#"{"org":"acme","demand":{"id":"Maple Court demand"}}"#.utf8), origin: "b")
    }

    @Test func aCallIsClaimedOncePerGenerationAnsweredAndRemoved() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                let calls = PostgresForwardedCalls(store: store, vault: Self.vault)
                let now = Date()
                try await calls.submit(Self.call("c1"), now: now, expiresAt: now.addingTimeInterval(30))
                try await calls.submit(Self.call("c2", realm: "r2"), now: now, expiresAt: now.addingTimeInterval(30))
                try await calls.submit(Self.call("c-old"), now: now, expiresAt: now.addingTimeInterval(-1))

                // The holder of r1 claims its own unexpired call, with its params as submitted.
                let claimed = try await calls.claim([Self.lease("r1", "a", generation: 3)], by: "a", now: now, limit: 10)
                #expect(claimed == [Self.call("c1")])
                #expect(try await calls.claim([Self.lease("r1", "a", generation: 3)], by: "a", now: now, limit: 10).isEmpty, "not twice under one lease")
                // A holder that died with it claimed: the next (a newer generation) claims it again.
                #expect(try await calls.claim([Self.lease("r1", "c", generation: 4)], by: "c", now: now, limit: 10).map(\.id) == ["c1"])
                #expect(try await calls.claim([Self.lease("r1", "a", generation: 3)], by: "a", now: now, limit: 10).isEmpty, "never back to an older holder")

                #expect(try await calls.answer(of: "c1", realmID: "r1") == nil)
                try await calls.answer(Self.call("c1"), with: Data(#"{"result":"e30="}"#.utf8), now: now)
                #expect(try await calls.answer(of: "c1", realmID: "r1") == Data(#"{"result":"e30="}"#.utf8))
                #expect(try await calls.claim([Self.lease("r1", "d", generation: 5)], by: "d", now: now, limit: 10).isEmpty, "an answered call is not claimed")
                #expect(try await calls.remove("c1") == true)
                #expect(try await calls.remove("c2") == false, "never claimed: nothing carried it out")
                #expect(try await calls.sweep(expiredBefore: now) == 1, "the expired call")
            }
        }
    }

    @Test func paramsAndAnswersAreSealedAndBoundToTheirCall() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                let calls = PostgresForwardedCalls(store: store, vault: Self.vault)
                let now = Date()
                try await calls.submit(Self.call("c1"), now: now, expiresAt: now.addingTimeInterval(30))
                try await calls.answer(Self.call("c1"), with: Data(#"{"name":"Maple Court"}"#.utf8), now: now)
                let raw = try await store.all("SELECT params || answer FROM qb_forwarded_calls", as: Data.self)
                #expect(raw.count == 1 && raw[0].range(of: Data("Maple Court".utf8)) == nil, "no QuickBooks data in plain text")
                // An answer moved to another call does not open.
                try await calls.submit(Self.call("c2"), now: now, expiresAt: now.addingTimeInterval(30))
                try await store.execute("UPDATE qb_forwarded_calls SET answer = (SELECT answer FROM qb_forwarded_calls WHERE id = 'c1'), answered_at = 1 WHERE id = 'c2'")
                await #expect(throws: TokenVaultError.self) { _ = try await calls.answer(of: "c2", realmID: "r1") }
            }
        }
    }
}
