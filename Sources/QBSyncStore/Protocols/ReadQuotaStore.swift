public import QBSyncCore

/// The read budget's counts, per month and class of caller and per company. A read is counted
/// before it is sent, both counts in one transaction.
public protocol ReadQuotaStore: Sendable {
    func load(month: String, budget: Int, reservePercent: Int) async throws -> ReadBudget
    func count(_ readClass: ReadClass, realmID: String, month: String) async throws
    func markRefusedByIntuit(month: String) async throws
    func byRealm(month: String, limit: Int) async throws -> [(realmID: String, org: String?, reads: Int)]
    /// Whether this instance is the one to tell operators that the month's budget is now in
    /// `state`: among several instances sharing the store, the first to see a change claims it and
    /// the others stay quiet, so a subscriber hears of it once. Alone on a store, always.
    func claimStateChange(month: String, to state: String) async throws -> Bool
}

extension ReadQuotaStore {
    public func claimStateChange(month: String, to state: String) async throws -> Bool { true }
}
