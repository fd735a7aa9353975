public import Foundation
public import QBSyncCore

/// The webhook log: deliveries (append-only) and their events (immutable facts, mutable
/// processing), from the intake's raw commit through extraction to each event's settlement.
public protocol WebhookLog: Sendable {
    func append(_ deliveries: [IncomingDelivery]) async throws -> [WebhookRepository.AppendOutcome]
    func duplicateOf(_ event: EventRecord) async throws -> Int64?
    func requeue(id: Int64) async throws -> Bool
    func find(id: Int64) async throws -> EventRecord?
    func list(org: OrgID?, status: String?, beforeID: Int64?, limit: Int) async throws -> [EventRecord]
    func counts() async throws -> (pending: Int, failed: Int)
    func reported(realmID: String, entityName: String, entityID: String, since: Date) async throws -> Bool
    func pendingRealms() async throws -> [(realmID: String, since: Date)]
    func due(realmID: String, now: Date, limit: Int) async throws -> [EventRecord]
    func nextDue(realmID: String) async throws -> Date?
    func oldestPending() async throws -> Date?
    func settle(_ outcomes: [(id: Int64, status: String, resolution: String?, error: String?)], now: Date) async throws -> [EventRecord]
    func postpone(ids: [Int64], error: String, at: Date, countAttempt: Bool) async throws

    // The intake (issue 17): raw deliveries committed first, their events extracted after.
    @discardableResult
    func appendRaw(_ deliveries: [RawDelivery]) async throws -> [WebhookRepository.AppendOutcome]
    func unexpanded(limit: Int) async throws -> [UnexpandedDelivery]
    func expand(_ expansions: [(delivery: UnexpandedDelivery, parsed: WebhookPayload.Parsed)]) async throws -> [ExpansionOutcome?]
}

extension WebhookLog {
    public func postpone(ids: [Int64], error: String, at: Date) async throws {
        try await postpone(ids: ids, error: error, at: at, countAttempt: true)
    }
}
