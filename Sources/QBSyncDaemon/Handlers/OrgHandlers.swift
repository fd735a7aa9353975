import QBSyncCore
import QBSyncStore

/// `org.list`: every organisation the daemon knows, with its connection.
struct OrgListMethod: RPCMethod {
    static let name = "org.list"
    static let access = RPCAccess.read

    struct Result: Encodable, Sendable { var orgs: [OrgInfo] }

    let orgs: OrgRepository

    func handle(_ params: NoParams, context: RPCContext) async throws -> Result {
        Result(orgs: try await orgs.list())
    }
}

/// `org.show`: one organisation; `not_found` when the daemon has never seen it.
struct OrgShowMethod: RPCMethod {
    static let name = "org.show"
    static let access = RPCAccess.read

    struct Params: Decodable, Sendable { var org: OrgID }

    let orgs: OrgRepository

    func handle(_ params: Params, context: RPCContext) async throws -> OrgInfo {
        guard let info = try await orgs.find(params.org) else { throw QBSyncError.notFound(what: "organisation \(params.org)") }
        return info
    }
}
