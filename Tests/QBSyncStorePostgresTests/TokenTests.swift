import Foundation
import PostgresNIO
import QBSyncCore
import QBSyncStore
@testable import QBSyncStorePostgres
import QBTestSupport
import Synchronization
import Testing

/// Tokens sealed at rest exactly as the SQLite store seals them, and refreshed under the row's lock.
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(3)))
struct TokenTests {
    let org = OrgID("org-tokens")!
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aSealedTokenIsNotReadableInTheTableAndOpensWithTheKey() async throws {
        try await PostgresTestDatabase.withSchema { [org, now] schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                let vault = TokenVault(key: .generate())
                let repository = PostgresTokenRepository(store: store, vault: vault)
                let stored = try await repository.connect(org: org, realmID: "9130000000000001", environment: "sandbox", tokens: Tokens.pair("plain-1"), now: now)
                #expect(stored.generation == 1)

                // The raw row holds neither token, as bytes or as text
                let (access, refresh) = try #require(
                    try await store.client.query("SELECT access_token, refresh_token FROM qb_configs WHERE org = \(org.rawValue)", logger: PostgresTestDatabase.logger)
                        .decode((Data, Data).self).first { _ in true }
                )
                for sealed in [access, refresh] {
                    #expect(sealed.range(of: Data("ACCESS-plain-1".utf8)) == nil && sealed.range(of: Data("REFRESH-plain-1".utf8)) == nil)
                    #expect(!TokenVault.isLegacy(sealed))
                }
                let found = try await PostgresTestDatabase.one(
                    "SELECT COUNT(*) FROM qb_configs WHERE position('plain-1' IN encode(access_token, 'escape') || encode(refresh_token, 'escape')) > 0",
                    as: Int64.self, on: store
                )
                #expect(found == 0)

                // The store opens them, bound to the row and generation; another key does not
                let grant = try #require(try await repository.grant(org))
                #expect(grant.tokens.accessToken.value == "ACCESS-plain-1" && grant.tokens.refreshToken.value == "REFRESH-plain-1")
                #expect(throws: TokenVaultError.self) {
                    try vault.open(access, org: org, realm: "9130000000000001", column: .refreshToken, generation: 1)
                }
                await #expect(throws: TokenVaultError.self) {
                    try await PostgresTokenRepository(store: store, vault: TokenVault(key: .generate())).grant(org)
                }
                await #expect(throws: PostgresTokenRepository.RealmInUse.self, "a company is bound to one org") {
                    try await repository.connect(org: OrgID("org-other")!, realmID: "9130000000000001", environment: "sandbox", tokens: Tokens.pair("2"), now: now)
                }
            }
        }
    }

    @Test func twoConcurrentRefreshesOfOneGrantCallIntuitOnceAndTheSecondSeesTheNewGeneration() async throws {
        try await PostgresTestDatabase.withSchema { [org, now] schema in
            let vault = TokenVault(key: .generate())
            // Two instances of the daemon on the one database
            try await PostgresTestDatabase.withStore(schema: schema) { first in
                try await PostgresTestDatabase.withStore(schema: schema) { second in
                    let seen = try await PostgresTokenRepository(store: first, vault: vault)
                        .connect(org: org, realmID: "9130000000000001", environment: "sandbox", tokens: Tokens.pair("g1"), now: now).generation
                    let calls = Mutex<[String]>([])
                    // The first refresh holds the row while Intuit answers, until the second is seen waiting on the row lock
                    let refresh: @Sendable (StoredGrant) async throws -> TokenSet = { grant in
                        calls.withLock { $0.append(grant.tokens.refreshToken.value) }
                        _ = try await eventually(timeout: .seconds(20), "the other refresh waits on the row lock") { () async throws -> Bool? in
                            let waiting = try await PostgresTestDatabase.one(
                                """
                                SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = \("qbsyncd-test-\(schema)")
                                    AND wait_event_type = 'Lock' AND query LIKE '%qb_configs%FOR UPDATE%'
                                """,
                                as: Int64.self, on: first
                            )
                            return waiting > 0 ? true : nil
                        }
                        return Tokens.pair("g2")
                    }
                    async let a = PostgresTokenRepository(store: first, vault: vault).refreshUnderLock(org: org, seenGeneration: seen, now: now, refresh)
                    async let b = PostgresTokenRepository(store: second, vault: vault).refreshUnderLock(org: org, seenGeneration: seen, now: now, refresh)
                    let outcomes = try await [a, b]

                    #expect(calls.withLock { $0 } == ["REFRESH-g1"], "Intuit was asked once, with the stored refresh token")
                    let refreshed = outcomes.filter { if case .refreshed = $0 { true } else { false } }
                    let waited = outcomes.filter { if case .alreadyRefreshed = $0 { true } else { false } }
                    #expect(refreshed.count == 1 && waited.count == 1)
                    #expect(outcomes.allSatisfy { $0.grant.generation == seen + 1 && $0.grant.tokens.refreshToken.value == "REFRESH-g2" })
                    let stored = try #require(try await PostgresTokenRepository(store: second, vault: vault).grant(org))
                    #expect(stored.generation == seen + 1 && stored.tokens.accessToken.value == "ACCESS-g2")
                }
            }
        }
    }

    @Test func aFailedRefreshWritesNothing() async throws {
        try await PostgresTestDatabase.withSchema { [org, now] schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                let repository = PostgresTokenRepository(store: store, vault: TokenVault(key: .generate()))
                let seen = try await repository.connect(org: org, realmID: "9130000000000001", environment: "sandbox", tokens: Tokens.pair("g1"), now: now).generation
                struct IntuitDown: Error {}
                await #expect(throws: IntuitDown.self) {
                    try await repository.refreshUnderLock(org: org, seenGeneration: seen, now: now) { _ in throw IntuitDown() }
                }
                let stored = try #require(try await repository.grant(org))
                #expect(stored.generation == seen && stored.tokens.refreshToken.value == "REFRESH-g1")
                #expect(store.health.snapshot.writable, "a refusal of the caller's own is no store failure")
                await #expect(throws: GrantNotConnected.self) {
                    try await repository.refreshUnderLock(org: OrgID("org-none")!, seenGeneration: 0, now: now) { _ in Tokens.pair("x") }
                }
            }
        }
    }
}

/// Token pairs for the tests: `ACCESS-<tag>` and `REFRESH-<tag>`.
enum Tokens {
    static func pair(_ tag: String) -> TokenSet {
        TokenSet(
            accessToken: Secret("ACCESS-\(tag)"), refreshToken: Secret("REFRESH-\(tag)"),
            accessTokenExpiresAt: Date(timeIntervalSince1970: 1_800_003_600), refreshTokenExpiresAt: Date(timeIntervalSince1970: 1_808_640_000),
            refreshTokenHardExpiresAt: nil
        )
    }
}
