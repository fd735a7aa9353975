public import Foundation
import PostgresNIO
public import QBSyncCore
public import QBSyncStore

/// Tokens, the refresh bookkeeping, the schedule and the key rotation.
extension PostgresConnectionRepository {
    /// The org's connection with its tokens opened; nil when it has none.
    public func connection(_ org: OrgID) async throws -> Connection? {
        let vault = vault
        let rows = try await store.rows(
            """
            SELECT realm_id, access_token, refresh_token, status, access_token_expires_at, refresh_token_expires_at, refresh_token_hard_expires_at,
                token_generation, refresh_failures, next_retry_at, last_refresh_at
            FROM qb_configs WHERE org = \(org.rawValue)
            """
        ) { row -> Connection? in
            let (realm, access, refresh, status, accessExpiry, refreshExpiry, hardExpiry, generation, failures, nextRetry, lastRefresh) = try row.decode(
                (String?, Data?, Data?, String, Int64?, Int64?, Int64?, Int64, Int64, Int64?, Int64?).self
            )
            guard let realm, let access, let refresh, let status = ConnectionStatus(rawValue: status) else { return nil }
            return Connection(
                org: org, realmID: realm, status: status,
                tokens: try vault.open(
                    access: access, refresh: refresh, org: org, realm: realm, generation: generation, accessExpiry: accessExpiry, refreshExpiry: refreshExpiry,
                    hardExpiry: hardExpiry
                ),
                generation: generation, refreshFailures: Int(failures), nextRetryAt: Date(seconds: nextRetry), lastRefreshAt: Date(seconds: lastRefresh)
            )
        }
        return rows.first
    }

    /// Commits refreshed tokens, but only over the generation the refresh started from.
    /// Returns false when another writer changed the tokens meanwhile.
    @discardableResult
    public func storeRefreshed(org: OrgID, realmID: String, tokens: TokenSet, expectedGeneration: Int64, now: Date) async throws -> Bool {
        let (access, refresh) = try vault.seal(tokens, org: org, realm: realmID, generation: expectedGeneration + 1)
        let logger = logger
        return try await store.write { connection in
            let updated = try await connection.collect(
                """
                UPDATE qb_configs SET access_token = \(access), refresh_token = \(refresh), access_token_expires_at = \(tokens.accessTokenExpiresAt.seconds),
                    refresh_token_expires_at = \(tokens.refreshTokenExpiresAt.seconds),
                    refresh_token_hard_expires_at = COALESCE(\(tokens.refreshTokenHardExpiresAt?.seconds), refresh_token_hard_expires_at),
                    last_refresh_at = \(now.seconds), last_error = NULL, refresh_failures = 0, next_retry_at = NULL,
                    token_generation = token_generation + 1, updated_at = \(now.seconds)
                WHERE org = \(org.rawValue) AND token_generation = \(expectedGeneration) AND status = 'connected'
                RETURNING 1
                """,
                logger: logger, Int32.self
            )
            return updated.count == 1
        }
    }

    /// A refresh under the row's lock, through ``PostgresTokenRepository/refreshUnderLock(org:seenGeneration:now:_:)``:
    /// one transaction locks the org's row (`SELECT … FOR UPDATE`), calls `refresh` (Intuit) and
    /// commits the new pair, so instances refreshing the same org at once take turns and the later
    /// one finds the generation moved (``LockedRefresh/alreadyRefreshed(_:)``) instead of spending
    /// a refresh token Intuit has already rotated. Locking the row in a read-write transaction is
    /// also the proof that the store can write before Intuit is asked (F2).
    ///
    /// The transaction holds a pooled connection across the call to Intuit (up to the token
    /// endpoint's timeout, times its retries), and a caller waiting for the lock holds one too: size
    /// `pool_max_conns` for the refreshes that may run at once (the scheduler's, plus 401s and
    /// `token.refresh` calls) on top of the rest of the instance's work.
    public func refreshLocked(
        org: OrgID, seenGeneration: Int64, now: Date, _ refresh: @Sendable (TokenSet) async throws -> TokenSet
    ) async throws -> LockedRefresh {
        let outcome: RefreshOutcome
        do {
            outcome = try await PostgresTokenRepository(store: store, vault: vault).refreshUnderLock(org: org, seenGeneration: seenGeneration, now: now) {
                grant in try await refresh(grant.tokens)
            }
        } catch is GrantNotConnected {
            return .notConnected
        }
        switch outcome {
        case .refreshed(let grant):
            return .refreshed(
                Connection(
                    org: org, realmID: grant.realmID, status: grant.status, tokens: grant.tokens, generation: grant.generation, refreshFailures: 0,
                    nextRetryAt: nil, lastRefreshAt: grant.lastRefreshAt
                )
            )
        case .alreadyRefreshed:
            // With its bookkeeping (failures, next retry), which the grant does not carry.
            guard let current = try await connection(org), current.status == .connected else { return .notConnected }
            return .alreadyRefreshed(current)
        }
    }

    /// A small write before a refresh asks Intuit: a store that cannot commit now would lose the
    /// rotated pair Intuit answers with, so the refresh is not asked for (F2).
    public func recordRefreshStarted(org: OrgID, now: Date) async throws {
        try await store.execute("UPDATE qb_configs SET updated_at = \(now.seconds) WHERE org = \(org.rawValue)")
    }

    /// A refresh failed for a reason other than `invalid_grant`: the error, and when to try again.
    public func recordRefreshFailure(org: OrgID, error: String, nextRetryAt: Date, now: Date) async throws {
        try await store.execute(
            """
            UPDATE qb_configs SET last_error = \(error), refresh_failures = refresh_failures + 1, next_retry_at = \(nextRetryAt.seconds),
                updated_at = \(now.seconds)
            WHERE org = \(org.rawValue)
            """
        )
    }

    /// Intuit refused the grant: the org must connect again. Returns the status it had.
    public func markNeedsReauthorization(org: OrgID, error: String, now: Date) async throws -> ConnectionStatus? {
        let logger = logger
        return try await store.write { connection in
            let previous = try await connection.collect("SELECT status FROM qb_configs WHERE org = \(org.rawValue) FOR UPDATE", logger: logger, String.self)
            try await connection.query(
                """
                UPDATE qb_configs SET status = 'needs_reauthorization', last_error = \(error), next_retry_at = NULL, updated_at = \(now.seconds)
                WHERE org = \(org.rawValue)
                """,
                logger: logger
            )
            return previous.first.flatMap(ConnectionStatus.init)
        }
    }

    /// Forgets the tokens and the realm binding. Returns the status it had (nil: unknown org).
    public func disconnect(org: OrgID, now: Date) async throws -> ConnectionStatus? {
        let logger = logger
        return try await store.write { connection in
            let previous = try await connection.collect("SELECT status FROM qb_configs WHERE org = \(org.rawValue) FOR UPDATE", logger: logger, String.self)
            try await connection.query(
                """
                UPDATE qb_configs SET status = 'disconnected', access_token = NULL, refresh_token = NULL, access_token_expires_at = NULL,
                    refresh_token_expires_at = NULL, refresh_token_hard_expires_at = NULL, realm_id = NULL, next_retry_at = NULL,
                    refresh_failures = 0, token_generation = token_generation + 1, updated_at = \(now.seconds)
                WHERE org = \(org.rawValue)
                """,
                logger: logger
            )
            return previous.first.flatMap(ConnectionStatus.init)
        }
    }

    public func markReconnectWarned(org: OrgID, now: Date) async throws {
        try await store.execute("UPDATE qb_configs SET reconnect_warned_at = \(now.seconds) WHERE org = \(org.rawValue)")
    }

    /// Every connected org's refresh schedule (for the scheduler, at start and after changes), in org order.
    public func schedule() async throws -> [ScheduleEntry] {
        try await store.rows(
            """
            SELECT org, access_token_expires_at, next_retry_at, refresh_token_expires_at, refresh_token_hard_expires_at, reconnect_warned_at
            FROM qb_configs WHERE status = 'connected' AND refresh_token IS NOT NULL ORDER BY org
            """
        ) { row in
            let (name, accessExpiry, nextRetry, refreshExpiry, hardExpiry, warned) = try row.decode((String, Int64?, Int64?, Int64?, Int64?, Int64?).self)
            guard let org = OrgID(name) else { return nil }
            return ScheduleEntry(
                org: org, accessTokenExpiresAt: Date(seconds: accessExpiry) ?? .distantPast, nextRetryAt: Date(seconds: nextRetry),
                reconnectBy: [Date(seconds: refreshExpiry), Date(seconds: hardExpiry)].compactMap { $0 }.min(), reconnectWarnedAt: Date(seconds: warned)
            )
        }
    }

    /// The orgs whose stored refresh token does not open with this vault's key: at start-up, a
    /// wrong key file must stop the daemon, not turn every org into "reconnect" one by one. The
    /// rows stream: the sealed tokens are never all in memory at once.
    public func tokensNotOpening() async throws -> (checked: Int, failing: [String]) {
        let vault = vault
        let logger = logger
        return try await store.read { connection in
            var checked = 0
            var failing: [String] = []
            let rows = try await connection.query(
                "SELECT org, realm_id, refresh_token, token_generation FROM qb_configs WHERE refresh_token IS NOT NULL AND realm_id IS NOT NULL",
                logger: logger
            )
            for try await (name, realm, refresh, generation) in rows.decode((String, String, Data, Int64).self) {
                checked += 1
                guard let org = OrgID(name),
                    (try? vault.open(refresh, org: org, realm: realm, column: .refreshToken, generation: generation)) != nil  // try?: the question is whether it opens
                else {
                    failing.append(name)
                    continue
                }
            }
            return (checked, failing)
        }
    }

    /// Re-seals every token under a new key, in one transaction (`qbsyncd rotate-token-key`). The
    /// generation is unchanged: each row is re-sealed for it (and a version-1 row migrates).
    public func reseal(with newVault: TokenVault) async throws -> Int {
        let vault = vault
        let logger = logger
        return try await store.write { connection in
            let rows = try await connection.collect(
                "SELECT org, realm_id, access_token, refresh_token, token_generation FROM qb_configs WHERE refresh_token IS NOT NULL ORDER BY org FOR UPDATE",
                logger: logger
            ) { row in try row.decode((String, String?, Data?, Data?, Int64).self) }
            var count = 0
            for (name, realm, access, refresh, g) in rows {
                guard let org = OrgID(name), let realm, let access, let refresh else { continue }
                let (newAccess, newRefresh) = try vault.reseal(access: access, refresh: refresh, with: newVault, org: org, realm: realm, generation: g)
                try await connection.query(
                    "UPDATE qb_configs SET access_token = \(newAccess), refresh_token = \(newRefresh) WHERE org = \(org.rawValue)", logger: logger
                )
                count += 1
            }
            return count
        }
    }
}
