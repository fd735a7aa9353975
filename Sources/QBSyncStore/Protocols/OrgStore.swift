public import Foundation
public import QBSyncCore

/// The organisations and their connection status, as `org.list`, `org.show` and the status
/// counts read them. One transaction per call.
public protocol OrgStore: Sendable {
    func list() async throws -> [OrgInfo]
    func list(status: ConnectionStatus?, after: String?, limit: Int) async throws -> [OrgInfo]
    func find(_ org: OrgID) async throws -> OrgInfo?
    func statusCounts() async throws -> OrgStatusCounts
    /// Creates the organisation's row if it does not exist (status `disconnected`).
    func ensure(_ org: OrgID, now: Date) async throws
}

extension OrgStore {
    public func ensure(_ org: OrgID) async throws {
        try await ensure(org, now: Date())
    }
}
