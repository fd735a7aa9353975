import Foundation
import Logging
import QBSyncCore
import QBSyncStore
import QBTestSupport
import Testing

/// The SQLite store seen only as the daemon sees it: through ``StoreBackend`` and the store
/// protocols, never its concrete repositories.
@Suite struct StoreBackendTests {
    @Test func theSQLiteStoreServesThroughTheBackendProtocols() async throws {
        // Given the SQLite store, held only as a backend
        let directory = try TempDirectory()
        defer { directory.remove() }
        let backend: any StoreBackend = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        defer { try? backend.close() }
        #expect(backend.description == "sqlite \(directory.path)/qbsyncd.sqlite")
        #expect(try backend.appliedMigrations().last == "v13-digest-after-commit")
        let org = OrgID("acme")!

        // When an org and a mapping are written through the protocols
        let orgs: any OrgStore = backend.orgs
        try await orgs.ensure(org)
        let mappings: any MappingStore = backend.mappings
        let intent = try await mappings.intendCreate(
            org: org, realm: "123", kind: .demand, localID: "dem-1", developmentID: nil, contentHash: Data([1]), now: Date()
        )
        let state = SyncedState(
            qboID: "130", syncToken: "0", status: .outstanding, docNumber: "1001", total: Money(minorUnits: 10_000), balance: Money(minorUnits: 10_000),
            dueDate: "2026-12-31", qboState: .active, contentHash: Data([1])
        )
        let synced = try await mappings.recordSynced(org: org, realm: "123", kind: .demand, localID: "dem-1", state: state, now: Date())

        // Then they read back through the same protocols, from a fresh vend of each store
        #expect(intent.isNew)
        #expect(synced.previous == nil)
        #expect(try await backend.orgs.find(org)?.status == .disconnected)
        #expect(try await backend.orgs.statusCounts() == OrgStatusCounts(total: 1, connected: 0, needsReauthorization: 0))
        let found = try await backend.mappings.find(org: org, realm: "123", kind: .demand, localID: "dem-1")
        #expect(found?.qboID == "130")
        #expect(found?.status == .outstanding)
        #expect(try await backend.mappings.counts(org: org).invoices[.outstanding] == 1)
        #expect(try await backend.invoiceHistory.history(org: org, demandID: "dem-1").isEmpty, "no history note was given")
        #expect(try await backend.connections(vault: TokenVault(key: TokenKey.generate())).connection(org) == nil)
        let events = try await backend.webhooks.counts()
        #expect(events.pending == 0 && events.failed == 0)

        // And the health after a write is writable, readable and not damaged
        #expect(await backend.isWritable())
        #expect(await backend.isReadable())
        await backend.checkIntegrity()
        #expect(backend.health.snapshot.isHealthy)
        #expect(backend.health.snapshot.problem == nil)
    }
}
