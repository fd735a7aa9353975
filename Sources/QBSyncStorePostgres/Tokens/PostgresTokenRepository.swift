public import Foundation
import Logging
import PostgresNIO
public import QBSyncCore
public import QBSyncStore

/// Grants and their sealed tokens in `qb_configs`, shared by instances. Tokens are sealed exactly
/// as the SQLite store seals them (``TokenVault``, bound to org, realm, column and generation):
/// never plain text in the database. A refresh runs under the row's lock, so instances never both
/// spend the same refresh token (Intuit rotates it: the second spend would be refused).
public struct PostgresTokenRepository: Sendable {
    let store: PostgresStore
    let vault: TokenVault

    public init(store: PostgresStore, vault: TokenVault) {
        self.store = store
        self.vault = vault
    }

    /// The realm is bound to another org (the SQLite store's error, so callers catch one type).
    public typealias RealmInUse = ConnectionRepository.RealmInUse

    /// Stores a new grant for the org (replacing any earlier one), sealed for the generation this
    /// write gives the row; refuses a realm bound to another org.
    public func connect(org: OrgID, realmID: String, environment: String, tokens: TokenSet, now: Date) async throws -> StoredGrant {
        let vault = vault
        let logger = store.logger
        return try await store.write { connection in
            let n = now.seconds
            _ = try await connection.query(
                "INSERT INTO qb_configs (org, created_at, updated_at) VALUES (\(org.rawValue), \(n), \(n)) ON CONFLICT (org) DO NOTHING", logger: logger
            )
            // The row locked, then the realm checked: a concurrent connect of the same org waits here.
            var generation: Int64 = 1
            let rows = try await connection.query("SELECT token_generation FROM qb_configs WHERE org = \(org.rawValue) FOR UPDATE", logger: logger)
            for try await stored in rows.decode(Int64.self) { generation = stored + 1 }
            let owners = try await connection.query(
                "SELECT EXISTS (SELECT 1 FROM qb_configs WHERE realm_id = \(realmID) AND org <> \(org.rawValue))", logger: logger
            )
            for try await taken in owners.decode(Bool.self) where taken { throw RealmInUse() }
            let (access, refresh) = try vault.seal(tokens, org: org, realm: realmID, generation: generation)
            _ = try await connection.query(
                """
                UPDATE qb_configs SET realm_id = \(realmID), environment = \(environment), status = 'connected', access_token = \(access),
                    refresh_token = \(refresh), access_token_expires_at = \(tokens.accessTokenExpiresAt.seconds),
                    refresh_token_expires_at = \(tokens.refreshTokenExpiresAt.seconds), refresh_token_hard_expires_at = \(tokens.refreshTokenHardExpiresAt?.seconds),
                    connected_at = \(n), grant_started_at = \(n), last_refresh_at = \(n), last_error = NULL, refresh_failures = 0,
                    next_retry_at = NULL, reconnect_warned_at = NULL, token_generation = \(generation), updated_at = \(n)
                WHERE org = \(org.rawValue)
                """,
                logger: logger
            )
            return StoredGrant(org: org, realmID: realmID, status: .connected, tokens: tokens, generation: generation, lastRefreshAt: now)
        }
    }

    /// The org's grant with its tokens opened; nil when it holds none.
    public func grant(_ org: OrgID) async throws -> StoredGrant? {
        let vault = vault
        let logger = store.logger
        return try await store.read { connection in try await Self.grant(org, lock: false, vault: vault, on: connection, logger: logger) }
    }

    /// Refreshes the org's tokens with the row locked (`SELECT … FOR UPDATE`) from the look to the
    /// commit: `refresh` (the call to Intuit) gets the grant as stored and returns the new pair,
    /// which is sealed and committed in the same transaction.
    ///
    /// `seenGeneration` is the generation the caller decided to refresh from. When the row has moved
    /// past it, another caller refreshed first (it held the lock while this one waited): `refresh`
    /// is not called and the grant it committed is returned. So two callers never both spend the
    /// same refresh token. When `refresh` throws, nothing is written and the error is rethrown.
    public func refreshUnderLock(
        org: OrgID, seenGeneration: Int64, now: Date, _ refresh: @Sendable (StoredGrant) async throws -> TokenSet
    ) async throws -> RefreshOutcome {
        let vault = vault
        let logger = store.logger
        return try await store.write { connection in
            guard let current = try await Self.grant(org, lock: true, vault: vault, on: connection, logger: logger), current.status == .connected else {
                throw GrantNotConnected(org: org)
            }
            guard current.generation == seenGeneration else { return .alreadyRefreshed(current) }
            let tokens = try await refresh(current)
            let generation = current.generation + 1
            let (access, refreshed) = try vault.seal(tokens, org: org, realm: current.realmID, generation: generation)
            _ = try await connection.query(
                """
                UPDATE qb_configs SET access_token = \(access), refresh_token = \(refreshed),
                    access_token_expires_at = \(tokens.accessTokenExpiresAt.seconds), refresh_token_expires_at = \(tokens.refreshTokenExpiresAt.seconds),
                    refresh_token_hard_expires_at = COALESCE(\(tokens.refreshTokenHardExpiresAt?.seconds), refresh_token_hard_expires_at),
                    last_refresh_at = \(now.seconds), last_error = NULL, refresh_failures = 0, next_retry_at = NULL,
                    token_generation = \(generation), updated_at = \(now.seconds)
                WHERE org = \(org.rawValue)
                """,
                logger: logger
            )
            var grant = current
            grant.tokens = tokens
            grant.generation = generation
            grant.lastRefreshAt = Date(timeIntervalSince1970: TimeInterval(now.seconds))
            return .refreshed(grant)
        }
    }

    static func grant(_ org: OrgID, lock: Bool, vault: TokenVault, on connection: PostgresConnection, logger: Logger) async throws -> StoredGrant? {
        let rows = try await connection.query(
            """
            SELECT realm_id, status, access_token, refresh_token, access_token_expires_at, refresh_token_expires_at,
                refresh_token_hard_expires_at, token_generation, last_refresh_at
            FROM qb_configs WHERE org = \(org.rawValue) \(unescaped: lock ? "FOR UPDATE" : "")
            """,
            logger: logger
        )
        for try await (realm, status, access, refresh, accessExpiry, refreshExpiry, hardExpiry, generation, lastRefresh) in rows.decode(
            (String?, String, Data?, Data?, Int64?, Int64?, Int64?, Int64, Int64?).self
        ) {
            guard let realm, let access, let refresh, let status = ConnectionStatus(rawValue: status) else { return nil }
            return StoredGrant(
                org: org, realmID: realm, status: status,
                tokens: try vault.open(
                    access: access, refresh: refresh, org: org, realm: realm, generation: generation, accessExpiry: accessExpiry, refreshExpiry: refreshExpiry,
                    hardExpiry: hardExpiry
                ),
                generation: generation, lastRefreshAt: Date(seconds: lastRefresh)
            )
        }
        return nil
    }
}

