import Foundation
import Logging
import QBSyncCore
import QBSyncStore
import QBTestSupport
import Testing
@testable import QBSyncDaemon

/// Two instances' governors on one store: each counts its own reads in memory, and takes in the
/// other's when it reads the counts again (the sweep service's tick), so the app-wide budget is
/// one budget, not one per instance.
@Suite struct ReadGovernorResyncTests {
    @Test func aGovernorSeesTheReadsAnotherCountedInTheStore() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        defer { try? store.close() }
        let settings = try await Settings.load(
            environment: ["QBSYNCD_CONFIG": try directory.write("q.conf", "QUICKBOOKS_READ_QUOTA=100\n"), "QBSYNCD_STATE_DIR": directory.path]
        ).get()
        let state = DaemonState(settings: settings, orgCounts: OrgStatusCounts())
        let hub = NotificationHub(logger: Logger(label: "test"))
        let a = try await ReadGovernor.load(repository: ReadQuotaRepository(store: store), state: state, hub: hub, logger: Logger(label: "a"))
        let b = try await ReadGovernor.load(repository: ReadQuotaRepository(store: store), state: state, hub: hub, logger: Logger(label: "b"))
        for _ in 0..<80 { try await a.take(.event, realmID: "r1") }
        #expect(b.status().used == 0, "b has not looked yet")
        await b.resync()
        #expect(b.status().used == 80)
        // Past its share of the budget with a's reads counted: b sheds sweeps (they stop at 90).
        for _ in 0..<10 { try await b.take(.event, realmID: "r2") }
        #expect(!b.allows(.sweep))
        await a.resync()
        #expect(a.status().used == 90 && !a.allows(.sweep))
    }
}
