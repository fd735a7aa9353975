public import Foundation
public import QBSyncCore

/// A control call carried to the instance that holds its company's lease (several instances on one
/// database): the instance it reached submits it, the holder claims it, carries it out and stores
/// the answer, and the submitter reads the answer and removes the call.
public struct ForwardedCall: Sendable, Equatable {
    /// Chosen by the submitter (a UUID): it waits for this call's answer.
    public var id: String
    public var realmID: String
    /// The control-protocol method.
    public var method: String
    /// The call's params as JSON (QuickBooks data: sealed in the table).
    public var params: Data
    /// The submitting instance.
    public var origin: String

    public init(id: String, realmID: String, method: String, params: Data, origin: String) {
        self.id = id
        self.realmID = realmID
        self.method = method
        self.params = params
        self.origin = origin
    }
}

/// The calls forwarded between instances. Params and answers are sealed with the token key: they
/// hold QuickBooks data. Alone on a store (SQLite) an instance holds every company and forwards
/// nothing, so only PostgreSQL has one.
public protocol ForwardedCallStore: Sendable {
    /// Stores a call for its company's holder, to be taken until `expiresAt`.
    func submit(_ call: ForwardedCall, now: Date, expiresAt: Date) async throws
    /// Claims the unanswered, unexpired calls of these companies that no holder has claimed under
    /// the same or a newer lease generation (a call claimed by a holder that died is claimed again
    /// by the next), at most `limit`.
    func claim(_ leases: [CompanyLease], by instance: String, now: Date, limit: Int) async throws -> [ForwardedCall]
    /// Stores the answer (JSON) of a claimed call, if the call is still there.
    func answer(_ call: ForwardedCall, with answer: Data, now: Date) async throws
    /// The call's answer (JSON), once there is one.
    func answer(of id: String, realmID: String) async throws -> Data?
    /// Removes the call (its answer read, or its submitter giving up); true when a holder had
    /// claimed it (so it may still be carried out).
    func remove(_ id: String) async throws -> Bool
    /// Removes calls that expired before `cutoff` (their submitters are gone); how many.
    func sweep(expiredBefore cutoff: Date) async throws -> Int
}
