import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// An update that QuickBooks saved but whose answers were all lost (a dropped connection here; a
/// holder killed by `kill -9` between Intuit's answer and its save, in several instances) leaves
/// QuickBooks holding content the mapping does not record. That content is qbsyncd's own write:
/// neither the next push nor the next read may take it for an edit made in QuickBooks.
@Suite(.timeLimit(.minutes(3))) struct LostUpdateTests {
    func invoices(_ pair: Pair) async throws -> [JSONValue] {
        try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json["invoices"]?.arrayValue ?? []
    }

    /// An invoice created at 100.00, then an update to 250.00 that QuickBooks saved and never answered.
    func invoiceWithALostUpdate(_ pair: Pair) async throws {
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(amounts: ["100.00"])))
        _ = try await pair.http.post("/sim/faults", json: ["fault": "drop_after", "path": "/invoice", "count": 3])
        await #expect {
            _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(amounts: ["250.00"])))
        } throws: { rpcReason($0) == "qbo_unavailable" }
        #expect(try await invoices(pair).first?["TotalAmt"]?.decimalText == "250", "QuickBooks saved the update")
        let mapping = try await pair.control.call(EntityListCall.self, .init(org: .test("acme"), kind: .demand)).entities.first
        #expect(mapping?.totalAmount?.description == "100.00", "the mapping never heard of it")
    }

    @Test func theNextPushOfOtherContentIsSentNotRefusedAsAConflict() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        try await invoiceWithALostUpdate(pair)

        // When the demand is edited again and pushed (its SyncToken is now stale: Intuit answers 5010)
        let pushed = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(amounts: ["300.00"])))

        // Then it is sent: QuickBooks holds the new content, the mapping says so, and no drift is reported
        #expect(try await invoices(pair).count == 1)
        #expect(try await invoices(pair).first?["TotalAmt"]?.decimalText == "300")
        #expect(pushed.totalAmount?.description == "300.00")
        #expect(pushed.drift == nil)
    }

    @Test func aReadOfTheLostUpdateIsNotDriftAndAnEditMadeInQuickBooksAfterItStillIs() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        try await invoiceWithALostUpdate(pair)

        // When the invoice is read (an operator's refresh; the pipeline's reads store the same way)
        let read = try await pair.control.call(InvoiceRefreshCall.self, DemandParams(org: .test("acme"), demandId: "dem-1"))

        // Then the update is taken for qbsyncd's own: no drift, and the mapping holds it
        #expect(read.drift == nil)
        #expect(read.totalAmount?.description == "250.00")
        // (pushing that content again is sent, not refused: the read could not know the push's content hash)
        let again = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(amounts: ["250.00"])))
        #expect(again.drift == nil && again.totalAmount?.description == "250.00")
        #expect(try await invoices(pair).count == 1)

        // And an edit a QuickBooks user makes afterwards is still drift, and still refused
        let qboID = try #require(read.qboId)
        _ = try await pair.http.post("/sim/clock", json: ["advanceSeconds": 2])
        _ = try await pair.http.post("/sim/companies/\(pair.sim.defaultRealmID)/invoices/\(qboID)/edit", json: ["DueDate": "2099-06-30"])
        await #expect {
            _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(amounts: ["300.00"])))
        } throws: { rpcReason($0) == "conflict" }
    }

    @Test func aCustomerUpdateWhoseAnswersWereLostIsNotAConflictEither() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        var development = SyncTests.developmentInput
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: development))

        // Given a rename QuickBooks saved but never answered
        development.email = "lettings@maplecourt.example"
        _ = try await pair.http.post("/sim/faults", json: ["fault": "drop_after", "path": "/customer", "count": 3])
        await #expect {
            _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: development))
        } throws: { rpcReason($0) == "qbo_unavailable" }

        // When another change is pushed
        development.phone = "0113 496 0000"
        let pushed = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: development))

        // Then it is sent, and QuickBooks holds both changes
        #expect(pushed.drift == nil)
        let customer = try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json["customers"]?.arrayValue?.first
        #expect(customer?["PrimaryEmailAddr"]?["Address"] == "lettings@maplecourt.example")
        #expect(customer?["PrimaryPhone"]?["FreeFormNumber"] == "0113 496 0000")
    }
}
