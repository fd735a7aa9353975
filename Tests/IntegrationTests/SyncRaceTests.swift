import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// F9: what is stored is what QuickBooks holds, whatever the order of retries and concurrent pushes.
@Suite(.timeLimit(.minutes(3))) struct SyncRaceTests {
    func invoices(_ pair: Pair) async throws -> [JSONValue] {
        try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json["invoices"]?.arrayValue ?? []
    }

    @Test func aCreateWhoseAnswerWasLostThenAnEditLeavesTheEditInQuickBooks() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))

        // Given a create that QuickBooks made but whose answers were all lost
        _ = try await pair.http.post("/sim/faults", json: ["fault": "drop_after", "path": "/invoice", "count": 3])
        do {
            _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(amounts: ["100.00"])))
            Issue.record("the push succeeded although every answer was lost")
        } catch {
            #expect(error.rpcError?.reason == "qbo_unavailable")
        }

        // When the demand is edited and pushed again (the same requestid: Intuit answers with the first create)
        let mapping = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(amounts: ["250.00"])))

        // Then QuickBooks holds the edit, once, and the mapping says what QuickBooks holds
        let all = try await invoices(pair)
        #expect(all.count == 1)
        #expect(all.first?["TotalAmt"]?.decimalText == "250")
        #expect(mapping.totalAmount?.description == "250.00")

        // And pushing the edit again is "unchanged" rightly: no call, QuickBooks still holds it
        let again = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(amounts: ["250.00"])))
        #expect(again.syncToken == mapping.syncToken)
        #expect(try await invoices(pair).first?["TotalAmt"]?.decimalText == "250")
    }

    @Test func concurrentPushesOfOneDemandMakeOneInvoiceAndStoreWhatItHolds() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))

        // When six clients push six versions of one new demand at once
        let amounts = (1...6).map { "\($0)00.00" }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for amount in amounts {
                group.addTask {
                    let client = try await pair.daemon.connect()
                    _ = try await client.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(amounts: [amount])))
                }
            }
            try await group.waitForAll()
        }

        // Then QuickBooks has one invoice, and the mapping holds its SyncToken and amount
        let all = try await invoices(pair)
        #expect(all.count == 1)
        let stored = try await pair.control.call(EntityListCall.self, .init(org: .test("acme"), kind: .demand)).entities.first
        #expect(stored?.syncToken == all.first?["SyncToken"]?.stringValue)
        #expect(stored?.totalAmount.flatMap { JSONValue.string($0.description).decimalText } == all.first?["TotalAmt"]?.decimalText)

        // And each version pushed again in turn leaves exactly that version in QuickBooks
        for amount in amounts.shuffled() {
            _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(amounts: [amount])))
            #expect(try await invoices(pair).first?["TotalAmt"]?.decimalText == JSONValue.string(amount).decimalText)
        }
    }
}

extension JSONValue {
    /// An amount as a number without trailing zeros ("250", "10.5"), whether sent as text or a number.
    var decimalText: String? {
        let text: String
        switch self {
        case .string(let value): text = value
        case .int(let value): text = String(value)
        case .double(let value): text = String(value)
        default: return nil
        }
        return Decimal(string: text).map { "\($0)" }
    }
}
