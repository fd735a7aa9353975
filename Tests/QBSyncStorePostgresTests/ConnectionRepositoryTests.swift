import Foundation
import QBSyncCore
import QBSyncStore
@testable import QBSyncStorePostgres
import Testing

/// The connection repository's calls, the same on both stores.
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(3)))
struct ConnectionRepositoryTests {
    let now = Fixtures.now
    let org = OrgID("org-conn")!

    @Test func anOAuthStateIsConsumedOnceAndARepeatedCallbackIsRecognised() async throws {
        try await Backends.each { [org, now] b in
            let connections = b.connections(TokenVault(key: .generate()))
            let state = Secret("state-1")
            try await connections.insertState(state, org: org, expiresAt: now.addingTimeInterval(600), now: now)
            #expect(try await connections.stateOwner(state) == org, "\(b)")
            #expect(try await connections.consumeState(state, code: Secret("code-1"), now: now) == .fresh(org), "\(b)")
            #expect(try await connections.consumeState(state, code: Secret("code-1"), now: now) == .repeated(org), "\(b): the same callback again")
            #expect(try await connections.consumeState(state, code: Secret("code-2"), now: now) == .invalid, "\(b): another code")
            #expect(try await connections.consumeState(Secret("unknown"), code: Secret("code-1"), now: now) == .invalid, "\(b)")

            try await connections.insertState(Secret("state-2"), org: org, expiresAt: now.addingTimeInterval(600), now: now)
            #expect(try await connections.consumeState(Secret("state-2"), code: Secret("c"), now: now.addingTimeInterval(601)) == .invalid, "\(b): expired")
        }
    }

    @Test func connectRefreshAndDisconnectKeepTheSameBookkeeping() async throws {
        try await Backends.each { [org, now] b in
            let vault = TokenVault(key: .generate())
            let connections = b.connections(vault)
            try await connections.connect(org: org, realmID: Fixtures.realm, environment: "sandbox", tokens: Tokens.pair("1"), now: now)
            try await connections.setCompanyName("Acme", org: org)
            var connection = try #require(try await connections.connection(org))
            #expect(connection.generation == 1 && connection.tokens.refreshToken.value == "REFRESH-1" && connection.status == .connected, "\(b)")
            #expect(try await connections.realmOwner(Fixtures.realm) == org, "\(b)")
            #expect(try await connections.realm(of: org) == Fixtures.realm, "\(b)")
            #expect(try await b.orgs.find(org)?.companyName == "Acme", "\(b)")

            await #expect(throws: ConnectionRepository.RealmInUse.self, "\(b): a company is bound to one org") {
                try await connections.connect(org: OrgID("org-other")!, realmID: Fixtures.realm, environment: "sandbox", tokens: Tokens.pair("x"), now: now)
            }
            #expect(try await connections.orgsConnected(toOtherEnvironmentThan: "production") == [org.rawValue], "\(b)")
            #expect(try await connections.orgsConnected(toOtherEnvironmentThan: "sandbox").isEmpty, "\(b)")

            // A refresh commits only over the generation it started from
            #expect(try await !connections.storeRefreshed(org: org, realmID: Fixtures.realm, tokens: Tokens.pair("2"), expectedGeneration: 0, now: now), "\(b)")
            try await connections.recordRefreshStarted(org: org, now: now)
            #expect(try await connections.storeRefreshed(org: org, realmID: Fixtures.realm, tokens: Tokens.pair("2"), expectedGeneration: 1, now: now), "\(b)")
            connection = try #require(try await connections.connection(org))
            #expect(connection.generation == 2 && connection.tokens.accessToken.value == "ACCESS-2", "\(b)")

            try await connections.recordRefreshFailure(org: org, error: "timeout", nextRetryAt: now.addingTimeInterval(60), now: now)
            connection = try #require(try await connections.connection(org))
            #expect(connection.refreshFailures == 1 && connection.nextRetryAt == now.addingTimeInterval(60), "\(b)")
            try await connections.markReconnectWarned(org: org, now: now)
            let schedule = try await connections.schedule()
            #expect(schedule.map(\.org) == [org] && schedule.first?.nextRetryAt == now.addingTimeInterval(60), "\(b)")
            #expect(schedule.first?.reconnectWarnedAt == now && schedule.first?.reconnectBy == Date(timeIntervalSince1970: 1_808_640_000), "\(b)")

            #expect(try await connections.markNeedsReauthorization(org: org, error: "invalid_grant", now: now) == .connected, "\(b)")
            #expect(try await connections.schedule().isEmpty, "\(b): no longer scheduled")
            #expect(try await connections.disconnect(org: org, now: now) == .needsReauthorization, "\(b)")
            #expect(try await connections.connection(org) == nil, "\(b)")
            #expect(try await connections.realm(of: org) == nil, "\(b)")
            #expect(try await connections.disconnect(org: OrgID("org-unknown")!, now: now) == nil, "\(b)")
        }
    }

    @Test func aWrongKeyIsFoundAtStartAndARotationReSealsEveryToken() async throws {
        try await Backends.each { [org, now] b in
            let vault = TokenVault(key: .generate())
            try await b.connections(vault).connect(org: org, realmID: Fixtures.realm, environment: "sandbox", tokens: Tokens.pair("1"), now: now)
            try await b.connections(vault).connect(org: OrgID("org-two")!, realmID: "42", environment: "sandbox", tokens: Tokens.pair("2"), now: now)
            #expect(try await b.connections(vault).tokensNotOpening() == (2, []), "\(b)")
            let other = TokenVault(key: .generate())
            #expect(try await b.connections(other).tokensNotOpening().failing.sorted() == ["org-conn", "org-two"], "\(b)")

            #expect(try await b.connections(vault).reseal(with: other) == 2, "\(b)")
            #expect(try await b.connections(other).connection(org)?.tokens.accessToken.value == "ACCESS-1", "\(b)")
            await #expect(throws: TokenVaultError.self, "\(b)") { try await b.connections(vault).connection(org) }
        }
    }

    @Test func anotherCompanyIsRefusedUnlessFreshWhichArchivesTheOldMappings() async throws {
        try await Backends.each { [org, now] b in
            let connections = b.connections(TokenVault(key: .generate()))
            try await connections.connect(org: org, realmID: "company-a", environment: "sandbox", tokens: Tokens.pair("1"), now: now)
            try await b.mappings.recordSynced(org: org, realm: "company-a", kind: .demand, localID: "inv-1", state: Fixtures.state(qboID: "7"), now: now)
            #expect(try await connections.mappedCompany(org: org, otherThan: "company-b") == "company-a", "\(b)")

            await #expect("\(b)") {
                try await connections.connect(org: org, realmID: "company-b", environment: "sandbox", tokens: Tokens.pair("2"), now: now)
            } throws: { error in
                (error as? ConnectionRepository.RealmChanged)?.previousRealmID == "company-a"
            }
            #expect(try await connections.realm(of: org) == "company-a", "\(b): nothing changed")

            try await connections.connect(org: org, realmID: "company-b", environment: "sandbox", tokens: Tokens.pair("2"), fresh: true, now: now)
            #expect(try await connections.realm(of: org) == "company-b", "\(b)")
            #expect(try await b.mappings.find(org: org, realm: "company-a", kind: .demand, localID: "inv-1") == nil, "\(b): archived, out of every lookup")
            #expect(try await connections.mappedCompany(org: org, otherThan: "company-b") == nil, "\(b)")
        }
    }

    @Test func twoInstancesConsumingOneStateAtOnceGetOneFreshAnswer() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { first in
                try await PostgresTestDatabase.withStore(schema: schema) { second in
                    let vault = TokenVault(key: .generate())
                    let org = OrgID("org-race")!
                    try await PostgresConnectionRepository(store: first, vault: vault).insertState(
                        Secret("s"), org: org, expiresAt: Fixtures.now.addingTimeInterval(600), now: Fixtures.now
                    )
                    async let a = PostgresConnectionRepository(store: first, vault: vault).consumeState(Secret("s"), code: Secret("c"), now: Fixtures.now)
                    async let b = PostgresConnectionRepository(store: second, vault: vault).consumeState(Secret("s"), code: Secret("c"), now: Fixtures.now)
                    let answers = try await [a, b]
                    #expect(answers.filter { $0 == .fresh(org) }.count == 1 && answers.filter { $0 == .repeated(org) }.count == 1)
                }
            }
        }
    }
}
