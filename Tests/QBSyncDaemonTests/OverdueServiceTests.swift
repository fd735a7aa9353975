import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import QBSyncCore
import QBSyncStore
import QBTestSupport
import Testing
@testable import QBSyncDaemon

@Suite struct OverdueServiceTests {
    @Test func anOutstandingInvoicePastItsDueDateTurnsOverdueAndIsNotified() async throws {
        // Given a store with one Outstanding invoice due on 2026-12-01
        let directory = try TempDirectory()
        defer { directory.remove() }
        let store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        defer { try? store.close() }
        let settings = try await Settings.load(environment: ["QBSYNCD_CONFIG": try directory.write("empty.conf", ""), "QBSYNCD_STATE_DIR": directory.path]).get()
        let state = DaemonState(settings: settings, orgCounts: OrgStatusCounts())
        let hub = NotificationHub(logger: Logger(label: "test"))
        let (_, changes) = AsyncStream.makeStream(of: TokenRefresher.ScheduleChange.self)
        let connections = ConnectionManager(
            repository: ConnectionRepository(store: store, vault: TokenVault(key: TokenKey.generate())), orgs: OrgRepository(store: store), items: MappingRepository(store: store),
            state: state,
            hub: hub, http: HTTPClient.shared,
            governor: try await ReadGovernor.load(repository: ReadQuotaRepository(store: store), state: state, hub: hub, logger: Logger(label: "test")),
            scheduleChanges: changes, logger: Logger(label: "test")
        )
        let mappings = MappingRepository(store: store)
        let sync = SyncService(connections: connections, mappings: mappings, logger: Logger(label: "test"))
        let org = OrgID("acme")!
        let invoice = SyncedState(
            qboID: "130", syncToken: "0", status: .outstanding, docNumber: "1001", total: Money(minorUnits: 10_000), balance: Money(minorUnits: 10_000),
            dueDate: "2026-12-01", qboState: .active, contentHash: nil
        )
        try await mappings.recordSynced(org: org, realm: "", kind: .demand, localID: "dem-1", state: invoice, now: Date())
        let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
        hub.register(connectionID: 1, filter: SubscriptionFilter(org: nil, topics: [NotificationTopic.invoiceStatusChanged]), continuation: continuation)
        let service = OverdueService(mappings: mappings, sync: sync, logger: Logger(label: "test"))

        // When the pass runs on the due date, nothing changes; the day after, it turns Overdue
        #expect(await service.pass(now: try Date("2026-12-01T12:00:00Z", strategy: .iso8601)) == 0)
        #expect(await service.pass(now: try Date("2026-12-02T00:30:00Z", strategy: .iso8601)) == 1)

        // Then the mapping is Overdue and subscribers were told
        #expect(try await mappings.find(org: org, kind: .demand, localID: "dem-1")?.status == .overdue)
        var iterator = stream.makeAsyncIterator()
        let line = try #require(await iterator.next())
        let notification = try JSONDecoder().decode(JSONValue.self, from: Data(line.readableBytesView))
        #expect(notification["method"] == "invoice.status_changed")
        #expect(notification["params"]?["from"] == "Outstanding")
        #expect(notification["params"]?["to"] == "Overdue")
        #expect(notification["params"]?["balance"] == "100.00")
        #expect(await service.pass(now: try Date("2026-12-03T00:30:00Z", strategy: .iso8601)) == 0, "once")

        // And the pass is in the invoice's history, which rebuilds the same status
        let history = InvoiceHistoryRepository(store: store)
        #expect(try await history.history(org: org, demandID: "dem-1").map(\.kind) == ["overdue"])
        let latest = try #require(try await history.latest(org: org).first)
        #expect(latest.stored == .overdue && latest.latest?.rebuilt.status == .overdue)
        #expect(latest.latest?.rebuilt.rule == "DueDate 2026-12-01 before 2026-12-02 with Balance > 0 → Overdue")
    }
}
