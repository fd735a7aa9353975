public import Foundation

/// Each company's change-feed state (watermark, reads, what they found) and the invoices each
/// payment was seen to pay: what the pipeline and the sweep keep between reads.
public protocol FeedStateStore: Sendable {
    func state(realmID: String) async throws -> FeedState?
    func connected() async throws -> (companies: [String], states: [FeedState])
    func recordRead(realmID: String, watermark: Date, at now: Date, addChanges: Int, addMissed: Int, suspectedLoss: Bool) async throws
    func lossTotals() async throws -> (changes: Int, missed: Int)
    func links(realmID: String, paymentIDs: [String]) async throws -> [String: Set<String>]
    func storeLinks(realmID: String, paymentID: String, invoiceIDs: [String]) async throws
}
