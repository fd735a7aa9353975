import Foundation
import GRDB
import Logging
import QBSyncCore
import QBTestSupport
import Testing
@testable import QBSyncStore

/// F1 in the store: mappings are kept and found per QuickBooks company, and a move to another
/// company archives them read-only.
@Suite struct MappingRealmTests {
    static let tokens = TokenSet(
        accessToken: Secret("access"), refreshToken: Secret("refresh"), accessTokenExpiresAt: Date().addingTimeInterval(3600),
        refreshTokenExpiresAt: Date().addingTimeInterval(86_400), refreshTokenHardExpiresAt: nil
    )

    static func state(_ id: String) -> SyncedState {
        SyncedState(
            qboID: id, syncToken: "0", status: .outstanding, docNumber: nil, total: Money(minorUnits: 100), balance: Money(minorUnits: 100), dueDate: "2099-01-01",
            qboState: .active, contentHash: nil
        )
    }

    /// A fresh store with org acme known.
    static func open(_ directory: TempDirectory) async throws -> (Store, ConnectionRepository, MappingRepository) {
        let store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        try await OrgRepository(store: store).ensure(OrgID("acme")!, now: Date())
        return (store, ConnectionRepository(store: store, vault: TokenVault(key: TokenKey.generate())), MappingRepository(store: store))
    }

    @Test func aMappingIsFoundOnlyInItsCompanyAndArchivedReadOnlyOnAMove() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let (store, connections, mappings) = try await Self.open(directory)
        let org = OrgID("acme")!

        // Given acme connected to company 111 with invoice 5 there
        try await connections.connect(org: org, realmID: "111", environment: "sandbox", tokens: Self.tokens, now: Date())
        try await mappings.recordSynced(org: org, realm: "111", kind: .demand, localID: "dem-1", state: Self.state("5"), now: Date())

        // Then it is found in 111 only
        #expect(try await mappings.find(org: org, realm: "111", kind: .demand, localID: "dem-1")?.qboID == "5")
        #expect(try await mappings.find(org: org, realm: "222", kind: .demand, localID: "dem-1") == nil)
        #expect(try await mappings.findByQBOID(org: org, realm: "222", qboType: "Invoice", qboID: "5") == nil)

        // When acme connects to company 222 without starting afresh, it is refused and nothing moves
        await #expect(throws: ConnectionRepository.RealmChanged.self) {
            try await connections.connect(org: org, realmID: "222", environment: "sandbox", tokens: Self.tokens, now: Date())
        }
        #expect(try await connections.realm(of: org) == "111")
        #expect(try await connections.mappedCompany(org: org, otherThan: "222") == "111")

        // When it starts afresh, the mapping is archived: out of every lookup, kept, read-only
        try await connections.connect(org: org, realmID: "222", environment: "sandbox", tokens: Self.tokens, fresh: true, now: Date())
        #expect(try await mappings.find(org: org, kind: .demand, localID: "dem-1") == nil)
        #expect(try await mappings.find(org: org, realm: "111", kind: .demand, localID: "dem-1") == nil)
        let archived = try await store.writer.read { db in try Row.fetchOne(db, sql: "SELECT * FROM qb_entity_mappings_archive WHERE org = 'acme'") }
        #expect(archived?["qbo_id"] as String? == "5")
        #expect(archived?["realm_id"] as String? == "111")
        #expect(archived?["archived_for_realm"] as String? == "222")
        await #expect(throws: DatabaseError.self) { try await store.writer.write { db in try db.execute(sql: "UPDATE qb_entity_mappings_archive SET qbo_id = '9'") } }
        await #expect(throws: DatabaseError.self) { try await store.writer.write { db in try db.execute(sql: "DELETE FROM qb_entity_mappings_archive") } }

        // And the same local id maps afresh in the new company
        try await mappings.recordSynced(org: org, realm: "222", kind: .demand, localID: "dem-1", state: Self.state("7"), now: Date())
        #expect(try await mappings.find(org: org, kind: .demand, localID: "dem-1")?.qboID == "7")
        try store.close()
    }

    @Test func mappingsFromBeforeTheirCompanyWasKnownAreClaimedByTheNextConnection() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let (store, connections, mappings) = try await Self.open(directory)
        let org = OrgID("acme")!
        // A mapping kept from before 0.2 of an org that was disconnected then (no company known)
        try await mappings.recordSynced(org: org, realm: "", kind: .demand, localID: "dem-1", state: Self.state("5"), now: Date())

        try await connections.connect(org: org, realmID: "111", environment: "sandbox", tokens: Self.tokens, now: Date())

        #expect(try await mappings.find(org: org, realm: "111", kind: .demand, localID: "dem-1")?.qboID == "5")
        try store.close()
    }
}
