public import Foundation
public import QBSyncCore

/// Connections, their sealed tokens and the OAuth states (`qb_configs`, `oauth_states`): what the
/// consent, the token refresher and the scheduler read and write, whatever the backend. Every
/// write is one transaction; a refresh commits only over the generation it started from.
public protocol ConnectionStore: Sendable {
    func insertState(_ state: Secret<String>, org: OrgID, expiresAt: Date, now: Date) async throws
    func consumeState(_ state: Secret<String>, code: Secret<String>, now: Date) async throws -> StateConsumption
    func realmOwner(_ realmID: String) async throws -> OrgID?
    func mappedCompany(org: OrgID, otherThan realmID: String) async throws -> String?
    func stateOwner(_ state: Secret<String>) async throws -> OrgID?
    func orgsConnected(toOtherEnvironmentThan environment: String) async throws -> [String]
    func realm(of org: OrgID) async throws -> String?
    /// Throws ``ConnectionRepository/RealmInUse`` or ``ConnectionRepository/RealmChanged``.
    func connect(org: OrgID, realmID: String, environment: String, tokens: TokenSet, fresh: Bool, now: Date) async throws
    func setCompanyName(_ name: String, org: OrgID) async throws
    func connection(_ org: OrgID) async throws -> Connection?
    func storeRefreshed(org: OrgID, realmID: String, tokens: TokenSet, expectedGeneration: Int64, now: Date) async throws -> Bool
    /// Refreshes the org's tokens so that no two callers, in this process or in another instance
    /// on the same database, ever spend the same refresh token (Intuit rotates it and refuses the
    /// superseded one for good): `refresh` (the call to Intuit) gets the tokens as stored at
    /// `seenGeneration` and returns the new pair, which is committed over that generation.
    ///
    /// - When the stored generation is no longer `seenGeneration` (another caller refreshed or the
    ///   grant was replaced), `refresh` is not called: ``LockedRefresh/alreadyRefreshed(_:)``.
    /// - When the org holds no connected grant: ``LockedRefresh/notConnected``, `refresh` not called.
    /// - The store is proved writable before `refresh` runs (F2: a rotated pair that cannot be
    ///   committed would be lost), so a store that cannot write throws before Intuit is asked.
    /// - When `refresh` throws, nothing of this call is written and its error is rethrown. When the
    ///   commit fails after `refresh` returned, the store's error is thrown: the caller, which saw
    ///   the pair `refresh` returned, keeps it (the pair Intuit issued must not be lost).
    ///
    /// PostgreSQL (several instances): one transaction holds the row's lock (`SELECT … FOR UPDATE`)
    /// from the look through the call to Intuit to the commit, so a second caller waits and then
    /// finds the generation moved. It holds one pooled connection for as long as Intuit takes to
    /// answer (up to the token endpoint's timeout and retries), and a waiter holds another: the
    /// pool (`pool_max_conns`) must leave room for the concurrent refreshes besides other work.
    /// SQLite (one instance, one writer): the generation check of ``storeRefreshed(org:realmID:tokens:expectedGeneration:now:)``.
    func refreshLocked(
        org: OrgID, seenGeneration: Int64, now: Date, _ refresh: @Sendable (TokenSet) async throws -> TokenSet
    ) async throws -> LockedRefresh
    func recordRefreshStarted(org: OrgID, now: Date) async throws
    func recordRefreshFailure(org: OrgID, error: String, nextRetryAt: Date, now: Date) async throws
    func markNeedsReauthorization(org: OrgID, error: String, now: Date) async throws -> ConnectionStatus?
    func disconnect(org: OrgID, now: Date) async throws -> ConnectionStatus?
    func markReconnectWarned(org: OrgID, now: Date) async throws
    func schedule() async throws -> [ScheduleEntry]
    func tokensNotOpening() async throws -> (checked: Int, failing: [String])
    func reseal(with newVault: TokenVault) async throws -> Int
}

/// What ``ConnectionStore/refreshLocked(org:seenGeneration:now:_:)`` did.
public enum LockedRefresh: Sendable {
    /// This call asked Intuit and committed its pair: the org's connection as now stored.
    case refreshed(Connection)
    /// The tokens moved past the generation the caller saw (another caller, maybe on another
    /// instance, refreshed): the stored connection to use instead.
    case alreadyRefreshed(Connection)
    /// The org holds no connected grant (never connected, disconnected, or must reconnect).
    case notConnected
}

extension ConnectionStore {
    public func connect(org: OrgID, realmID: String, environment: String, tokens: TokenSet, now: Date) async throws {
        try await connect(org: org, realmID: realmID, environment: environment, tokens: tokens, fresh: false, now: now)
    }
}
