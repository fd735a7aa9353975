import Foundation
import QBSyncCore
import QBSyncStore
@testable import QBSyncStorePostgres
import Testing

/// The organisations and their status, the same on both stores.
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(3)))
struct OrgRepositoryTests {
    @Test func orgsAreEnsuredOnceListedInOrderAndCounted() async throws {
        try await Backends.each { b in
            let now = Fixtures.now
            for name in ["org-c", "org-a", "org-b", "org-a"] { try await b.orgs.ensure(OrgID(name)!, now: now) }
            try await b.connections(TokenVault(key: .generate())).connect(
                org: OrgID("org-b")!, realmID: Fixtures.realm, environment: "sandbox", tokens: Tokens.pair("1"), now: now
            )
            #expect(try await b.orgs.list().map(\.org.rawValue) == ["org-a", "org-b", "org-c"], "\(b)")
            let page = try await b.orgs.list(status: nil, after: "org-a", limit: 1)
            #expect(page.map(\.org.rawValue) == ["org-b"], "\(b)")
            #expect(try await b.orgs.list(status: .disconnected, after: nil, limit: 10).map(\.org.rawValue) == ["org-a", "org-c"], "\(b)")
            let connected = try #require(try await b.orgs.find(OrgID("org-b")!))
            #expect(connected.status == .connected && connected.realmID == Fixtures.realm && connected.connectedAt == now, "\(b)")
            #expect(connected.reconnectBy == Date(timeIntervalSince1970: 1_808_640_000), "\(b)")
            #expect(try await b.orgs.find(OrgID("org-z")!) == nil, "\(b)")
            #expect(try await b.orgs.statusCounts() == OrgStatusCounts(total: 3, connected: 1, needsReauthorization: 0), "\(b)")
        }
    }
}
