import QBSyncCore
import QBSyncStore

/// `oauth.begin`: a consent URL and a fresh, single-use state bound to the org.
struct OAuthBeginMethod: RPCMethod {
    static let name = "oauth.begin"
    static let access = RPCAccess.write
    static let requiresIntegration = true
    struct Params: Decodable, Sendable { var org: OrgID }
    let connections: ConnectionManager

    func handle(_ params: Params, context: RPCContext) async throws -> ConnectionManager.Begun {
        try await connections.begin(org: params.org)
    }
}

/// `oauth.complete`: exchanges the code for the state's org; `invalid_state`, `realm_in_use`,
/// `realm_changed` (the org's records are another company's; `fresh:true` archives them).
struct OAuthCompleteMethod: RPCMethod {
    static let name = "oauth.complete"
    static let access = RPCAccess.write
    static let requiresIntegration = true
    struct Params: Decodable, Sendable {
        var state: String
        var code: String
        var realmId: String
        var fresh: Bool?
    }
    let connections: ConnectionManager

    func handle(_ params: Params, context: RPCContext) async throws -> OrgInfo {
        guard !params.state.isEmpty else { throw QBSyncError.invalidParams(field: "state", detail: "must not be empty") }
        guard !params.code.isEmpty, params.code.count <= 4096 else { throw QBSyncError.invalidParams(field: "code", detail: "must be 1-4096 characters") }
        return try await connections.complete(state: Secret(params.state), code: Secret(params.code), realmID: params.realmId, fresh: params.fresh ?? false)
    }
}

/// `org.test`: reads CompanyInfo with the org's token.
struct OrgTestMethod: RPCMethod {
    static let name = "org.test"
    static let access = RPCAccess.write
    static let requiresIntegration = true
    struct Params: Decodable, Sendable { var org: OrgID }
    let connections: ConnectionManager

    func handle(_ params: Params, context: RPCContext) async throws -> ConnectionManager.TestResult {
        try await connections.test(org: params.org)
    }
}

/// `org.disconnect`: revokes at Intuit, then forgets the tokens.
struct OrgDisconnectMethod: RPCMethod {
    static let name = "org.disconnect"
    static let access = RPCAccess.write
    static let requiresIntegration = true
    struct Params: Decodable, Sendable { var org: OrgID }
    let connections: ConnectionManager

    func handle(_ params: Params, context: RPCContext) async throws -> ConnectionManager.Disconnected {
        try await connections.disconnect(org: params.org)
    }
}

/// `token.refresh`: refreshes now and answers the org's connection.
struct TokenRefreshMethod: RPCMethod {
    static let name = "token.refresh"
    static let access = RPCAccess.write
    static let requiresIntegration = true
    struct Params: Decodable, Sendable { var org: OrgID }
    let connections: ConnectionManager
    let orgs: OrgRepository

    func handle(_ params: Params, context: RPCContext) async throws -> OrgInfo {
        try await connections.refresh(org: params.org, reason: "requested")
        guard let info = try await orgs.find(params.org) else { throw QBSyncError.notFound(what: "organisation \(params.org)") }
        return info
    }
}
