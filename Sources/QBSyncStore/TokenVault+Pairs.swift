public import Foundation
public import QBSyncCore

/// A grant's two tokens at once, as both stores seal, open and re-seal them.
extension TokenVault {
    /// The pair sealed for the row's `generation` as it will be once the write that stores it commits.
    public func seal(_ tokens: TokenSet, org: OrgID, realm: String, generation: Int64) throws -> (access: Data, refresh: Data) {
        (
            try seal(tokens.accessToken, org: org, realm: realm, column: .accessToken, generation: generation),
            try seal(tokens.refreshToken, org: org, realm: realm, column: .refreshToken, generation: generation)
        )
    }

    /// A row's pair opened at its `generation`, with its expiry times (epoch seconds as stored; an
    /// unknown access or refresh expiry is long past).
    public func open(
        access: Data, refresh: Data, org: OrgID, realm: String, generation: Int64, accessExpiry: Int64?, refreshExpiry: Int64?, hardExpiry: Int64?
    ) throws(TokenVaultError) -> TokenSet {
        func date(_ seconds: Int64?) -> Date? { seconds.map { Date(timeIntervalSince1970: TimeInterval($0)) } }
        return TokenSet(
            accessToken: try open(access, org: org, realm: realm, column: .accessToken, generation: generation),
            refreshToken: try open(refresh, org: org, realm: realm, column: .refreshToken, generation: generation),
            accessTokenExpiresAt: date(accessExpiry) ?? .distantPast, refreshTokenExpiresAt: date(refreshExpiry) ?? .distantPast,
            refreshTokenHardExpiresAt: date(hardExpiry)
        )
    }

    /// A row's pair opened with this vault and sealed with `newVault` for the same `generation`
    /// (a key rotation writes no new generation; a version-1 pair migrates).
    public func reseal(access: Data, refresh: Data, with newVault: TokenVault, org: OrgID, realm: String, generation: Int64) throws -> (access: Data, refresh: Data) {
        func reseal(_ sealed: Data, _ column: Column) throws -> Data {
            try newVault.seal(open(sealed, org: org, realm: realm, column: column, generation: generation), org: org, realm: realm, column: column, generation: generation)
        }
        return (try reseal(access, .accessToken), try reseal(refresh, .refreshToken))
    }
}
