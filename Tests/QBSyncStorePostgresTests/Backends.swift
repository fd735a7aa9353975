import Foundation
import QBSyncCore
import QBSyncStore
@testable import QBSyncStorePostgres
import QBTestSupport
import Testing

/// One store's repositories, as the backend-neutral protocols the daemon holds: the same
/// assertions run on the SQLite store and on the PostgreSQL one, to show they behave the same.
struct Backend: Sendable, CustomStringConvertible {
    var name: String
    var connections: @Sendable (TokenVault) -> any ConnectionStore
    var orgs: any OrgStore
    var mappings: any MappingStore
    var history: any InvoiceHistoryStore
    var feed: any FeedStateStore
    var quota: any ReadQuotaStore
    var archives: any LogArchiveStore
    var webhooks: any WebhookLog

    var description: String { name }

    init(sqlite store: Store) {
        name = "sqlite"
        connections = { ConnectionRepository(store: store, vault: $0) }
        orgs = OrgRepository(store: store)
        mappings = MappingRepository(store: store)
        history = InvoiceHistoryRepository(store: store)
        feed = FeedStateRepository(store: store)
        quota = ReadQuotaRepository(store: store)
        archives = LogArchiveRepository(store: store)
        webhooks = WebhookRepository(store: store)
    }

    init(postgres store: PostgresStore, archiveDirectory: String) {
        name = "postgres"
        connections = { PostgresConnectionRepository(store: store, vault: $0) }
        orgs = PostgresOrgRepository(store: store)
        mappings = PostgresMappingRepository(store: store)
        history = PostgresInvoiceHistoryRepository(store: store)
        feed = PostgresFeedStateRepository(store: store)
        quota = PostgresReadQuotaRepository(store: store)
        archives = PostgresLogArchiveRepository(store: store, directory: archiveDirectory)
        webhooks = PostgresWebhookRepository(store: store)
    }
}

enum Backends {
    /// Runs `body` on a fresh SQLite store, then on a fresh PostgreSQL schema.
    static func each(_ body: @Sendable (Backend) async throws -> Void) async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let sqlite = try Store.open(stateDirectory: try directory.makeDirectory("sqlite"), logger: PostgresTestDatabase.logger)
        do {
            try await body(Backend(sqlite: sqlite))
            try sqlite.close()
        } catch {
            try? sqlite.close()  // try?: the test's own error is the one to report
            throw error
        }
        let archives = directory.file("postgres-archives")
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                try await body(Backend(postgres: store, archiveDirectory: archives))
            }
        }
    }
}

/// Fixtures shared by the repository tests.
enum Fixtures {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let realm = "9130000000000001"

    static func state(
        qboID: String, syncToken: String = "0", status: EntityStatus = .outstanding, total: Int64 = 10_000, balance: Int64 = 10_000,
        dueDate: String? = "2027-01-31", history: HistoryNote? = HistoryNote(kind: .push)
    ) -> SyncedState {
        var state = SyncedState(
            qboID: qboID, syncToken: syncToken, status: status, docNumber: "D-\(qboID)", total: Money(minorUnits: total), balance: Money(minorUnits: balance),
            dueDate: dueDate, qboState: .active, contentHash: Data([1, 2, 3])
        )
        state.history = history
        return state
    }

    /// A CloudEvents delivery of one event per id.
    static func cloudEvents(_ ids: [String], realmID: String = realm, body: String? = nil) -> IncomingDelivery {
        IncomingDelivery(
            receivedAt: now, body: Data((body ?? "[\(ids.map { #"{"id":"\#($0)"}"# }.joined(separator: ","))]").utf8), signature: "sig", remoteAddress: nil,
            format: .cloudevents,
            events: ids.map {
                WebhookEventFact(
                    realmID: realmID, entityName: "Invoice", entityID: "i-\($0)", operation: "Update", lastUpdated: nil, type: "invoice.updated", cloudEventID: $0
                )
            }
        )
    }
}
