import Foundation
import QBSyncCore
import QBSyncStore
@testable import QBSyncStorePostgres
import Testing

/// The change feed's state and the payment links, the same on both stores.
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(3)))
struct FeedStateRepositoryTests {
    @Test func readsAddUpAndTheWatermarkNeverMovesBack() async throws {
        try await Backends.each { b in
            let now = Fixtures.now
            #expect(try await b.feed.state(realmID: Fixtures.realm) == nil, "\(b)")
            try await b.feed.recordRead(realmID: Fixtures.realm, watermark: now, at: now, addChanges: 3, addMissed: 1, suspectedLoss: true)
            try await b.feed.recordRead(
                realmID: Fixtures.realm, watermark: now.addingTimeInterval(-60), at: now.addingTimeInterval(60), addChanges: 2, addMissed: 0, suspectedLoss: false
            )
            try await b.feed.recordRead(realmID: "42", watermark: now, at: now, addChanges: 1, addMissed: 1, suspectedLoss: false)
            let state = try #require(try await b.feed.state(realmID: Fixtures.realm))
            #expect(state.watermark == now && state.lastReadAt == now.addingTimeInterval(60), "\(b)")
            #expect(state.changes == 5 && state.missed == 1 && state.reads == 2 && !state.suspectedLoss, "\(b)")
            #expect(try await b.feed.lossTotals() == (changes: 6, missed: 2), "\(b)")

            #expect(try await b.feed.connected().companies.isEmpty, "\(b)")
            try await WebhookPipelineTests.connect(b)
            let connected = try await b.feed.connected()
            #expect(connected.companies == [Fixtures.realm] && connected.states == [state], "\(b)")
        }
    }

    @Test func paymentLinksAreStoredOnce() async throws {
        try await Backends.each { b in
            try await b.feed.storeLinks(realmID: Fixtures.realm, paymentID: "p1", invoiceIDs: ["i1", "i2"])
            try await b.feed.storeLinks(realmID: Fixtures.realm, paymentID: "p1", invoiceIDs: ["i2", "i3"])
            try await b.feed.storeLinks(realmID: Fixtures.realm, paymentID: "p2", invoiceIDs: [])
            try await b.feed.storeLinks(realmID: "42", paymentID: "p2", invoiceIDs: ["i9"])
            #expect(try await b.feed.links(realmID: Fixtures.realm, paymentIDs: ["p1", "p2"]) == ["p1": ["i1", "i2", "i3"]], "\(b)")
            #expect(try await b.feed.links(realmID: Fixtures.realm, paymentIDs: []) == [:], "\(b)")
        }
    }
}
