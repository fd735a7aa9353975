public import QBSyncCore

/// What one call needs of a company's grant: the company and a current access token (never the
/// refresh token).
public struct CompanySession: Sendable {
    public var realmID: String
    public var accessToken: Secret<String>

    public init(realmID: String, accessToken: Secret<String>) {
        self.realmID = realmID
        self.accessToken = accessToken
    }
}

/// Where a ``CompanyClient`` gets its company's access token, and whom it tells when Intuit
/// refuses the grant. Errors the provider throws (the company is not connected, its store
/// failed) are its own and pass through the client unchanged.
public protocol AccessTokenProvider: Sendable {
    /// The current session: waits for a refresh in flight and refreshes a token about to expire.
    func session() async throws -> CompanySession
    /// A session to replace `rejected`, which Intuit answered 401: one refresh, shared by every
    /// caller that met the same token.
    func refreshed(after rejected: CompanySession) async throws -> CompanySession
    /// Intuit refused the grant in a way no refresh cures (403 3100, 401 120 or 130, a 401 that a
    /// freshly refreshed token met again): the company must be connected again.
    func refused(_ fault: QBOFault, session: CompanySession) async throws
}
