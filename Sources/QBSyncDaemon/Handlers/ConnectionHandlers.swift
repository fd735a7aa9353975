import QBSyncCore
import QBSyncStore

/// `oauth.begin`: a consent URL and a fresh, single-use state bound to the org.
struct OAuthBeginMethod: RPCMethod {
    typealias Call = OAuthBeginCall
    static let access = RPCAccess.write
    static let requiresIntegration = true
    let connections: ConnectionManager

    func handle(_ params: Params, context: RPCContext) async throws -> ConnectionManager.Begun {
        try await connections.begin(org: params.org)
    }
}

/// `oauth.complete`: exchanges the code for the state's org; `invalid_state`, `realm_in_use`,
/// `realm_changed` (the org's records are another company's; `fresh:true` archives them).
struct OAuthCompleteMethod: RPCMethod {
    typealias Call = OAuthCompleteCall
    static let access = RPCAccess.write
    static let requiresIntegration = true
    let connections: ConnectionManager

    func handle(_ params: Params, context: RPCContext) async throws -> OrgInfo {
        guard !params.state.isEmpty else { throw QBSyncError.invalidParams(field: "state", detail: "must not be empty") }
        guard !params.code.isEmpty, params.code.count <= 4096 else { throw QBSyncError.invalidParams(field: "code", detail: "must be 1-4096 characters") }
        return try await connections.complete(state: Secret(params.state), code: Secret(params.code), realmID: params.realmId, fresh: params.fresh ?? false)
    }
}

/// `org.test`: reads CompanyInfo with the org's token.
struct OrgTestMethod: RPCMethod {
    typealias Call = OrgTestCall
    static let access = RPCAccess.write
    static let requiresIntegration = true
    let access: CompanyAccess

    func handle(_ params: Params, context: RPCContext) async throws -> OrgTestCall.Result {
        try await access.test(org: params.org)
    }
}

/// `org.disconnect`: revokes at Intuit, then forgets the tokens.
struct OrgDisconnectMethod: RPCMethod {
    typealias Call = OrgDisconnectCall
    static let access = RPCAccess.write
    static let requiresIntegration = true
    let connections: ConnectionManager

    func handle(_ params: Params, context: RPCContext) async throws -> ConnectionManager.Disconnected {
        try await connections.disconnect(org: params.org)
    }
}

/// `token.refresh`: refreshes now and answers the org's connection.
struct TokenRefreshMethod: RPCMethod {
    typealias Call = TokenRefreshCall
    static let access = RPCAccess.write
    static let requiresIntegration = true
    let refresher: TokenRefresher
    let orgs: any OrgStore

    func handle(_ params: Params, context: RPCContext) async throws -> OrgInfo {
        try await refresher.refresh(org: params.org, reason: "requested")
        guard let info = try await orgs.find(params.org) else { throw QBSyncError.notFound(what: "organisation \(params.org)") }
        return info
    }
}
