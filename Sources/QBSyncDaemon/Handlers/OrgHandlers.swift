import QBSyncCore
import QBSyncStore

/// `org.list`: every organisation the daemon knows, with its connection.
struct OrgListMethod: RPCMethod {
    typealias Call = OrgListCall
    typealias Result = Call.Result
    static let access = RPCAccess.read

    let orgs: any OrgStore

    /// Pages of at most 1,000 (the default), in org order, so ten thousand orgs never make one answer.
    func handle(_ params: Params, context: RPCContext) async throws -> Result {
        let limit = params.limit ?? 1000
        guard (1...1000).contains(limit) else { throw QBSyncError.invalidParams(field: "limit", detail: "must be from 1 to 1000") }
        let status = try params.status.map { text throws(QBSyncError) -> ConnectionStatus in
            guard let status = ConnectionStatus(rawValue: text) else {
                throw .invalidParams(field: "status", detail: "must be connected, disconnected or needs_reauthorization")
            }
            return status
        }
        let after = try params.cursor.map { cursor throws(QBSyncError) in try ListCursor.parseText(cursor, prefix: "o") }
        let page = try await orgs.list(status: status, after: after, limit: limit)
        let next = page.count == limit ? page.last.map { ListCursor.make(prefix: "o", text: $0.org.rawValue) } : nil
        return Result(orgs: page, nextCursor: next)
    }
}

/// `org.show`: one organisation; `not_found` when the daemon has never seen it.
struct OrgShowMethod: RPCMethod {
    typealias Call = OrgShowCall
    static let access = RPCAccess.read

    let orgs: any OrgStore

    func handle(_ params: Params, context: RPCContext) async throws -> OrgInfo {
        guard let info = try await orgs.find(params.org) else { throw QBSyncError.notFound(what: "organisation \(params.org)") }
        return info
    }
}
