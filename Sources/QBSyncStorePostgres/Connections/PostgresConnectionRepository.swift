public import Foundation
import Logging
import PostgresNIO
public import QBSyncCore
public import QBSyncStore

/// Connections and their sealed tokens (`qb_configs`, `oauth_states`) in PostgreSQL: the calls of
/// the SQLite store's `ConnectionRepository`, with the same rows and outcomes. Tokens are sealed
/// with the same ``TokenVault`` binding (org, realm, column, generation). Every write is one
/// transaction; rows a decision depends on are locked (`FOR UPDATE`) so concurrent instances
/// decide one after the other, as SQLite's single writer does. A refresh that must not race
/// another instance's uses ``PostgresTokenRepository/refreshUnderLock(org:seenGeneration:now:_:)``.
public struct PostgresConnectionRepository: Sendable {
    let vault: TokenVault
    /// The store it works on.
    public let store: PostgresStore

    public init(store: PostgresStore, vault: TokenVault) {
        self.store = store
        self.vault = vault
    }

    var logger: Logger { store.logger }

    // MARK: OAuth states

    public func insertState(_ state: Secret<String>, org: OrgID, expiresAt: Date, now: Date) async throws {
        let logger = logger
        try await store.write { connection in
            try await connection.query("DELETE FROM oauth_states WHERE expires_at < \(now.seconds - 86_400)", logger: logger)
            try await connection.query(
                """
                INSERT INTO oauth_states (state_hash, org, created_at, expires_at)
                VALUES (\(ConnectionRepository.hash(state.value)), \(org.rawValue), \(now.seconds), \(expiresAt.seconds))
                """,
                logger: logger
            )
        }
    }

    /// Marks a state used, once (the row locked: two callbacks at once on two instances are one
    /// `fresh` and one `repeated`); the same code again is recognised as a repeated callback.
    public func consumeState(_ state: Secret<String>, code: Secret<String>, now: Date) async throws -> StateConsumption {
        let logger = logger
        let stateHash = ConnectionRepository.hash(state.value)
        return try await store.write { connection in
            let rows = try await connection.query(
                "SELECT org, expires_at, used_at, code_hash FROM oauth_states WHERE state_hash = \(stateHash) FOR UPDATE", logger: logger
            )
            var found: (String, Int64, Int64?, Data?)?
            for try await row in rows.decode((String, Int64, Int64?, Data?).self) { found = row }
            guard let (name, expiresAt, usedAt, storedCode) = found, let org = OrgID(name) else { return .invalid }
            let codeHash = ConnectionRepository.hash(code.value)
            if usedAt != nil { return storedCode == codeHash ? .repeated(org) : .invalid }
            guard expiresAt >= now.seconds else { return .invalid }
            try await connection.query(
                "UPDATE oauth_states SET used_at = \(now.seconds), code_hash = \(codeHash) WHERE state_hash = \(stateHash)", logger: logger
            )
            return .fresh(org)
        }
    }

    // MARK: Connections

    /// Whether another org holds this realm.
    public func realmOwner(_ realmID: String) async throws -> OrgID? {
        try await store.first("SELECT org FROM qb_configs WHERE realm_id = \(realmID)", as: String.self).flatMap(OrgID.init)
    }

    /// Another company than `realmID` that the org's mappings belong to, if any.
    public func mappedCompany(org: OrgID, otherThan realmID: String) async throws -> String? {
        let logger = logger
        return try await store.read { connection in
            try await PostgresMappingRealm.otherCompany(org: org, realmID: realmID, on: connection, logger: logger)
        }
    }

    /// The org the OAuth state was issued for, without using it up.
    public func stateOwner(_ state: Secret<String>) async throws -> OrgID? {
        try await store.first("SELECT org FROM oauth_states WHERE state_hash = \(ConnectionRepository.hash(state.value))", as: String.self).flatMap(OrgID.init)
    }

    /// Orgs holding a grant of another QuickBooks environment than `environment` (F15).
    public func orgsConnected(toOtherEnvironmentThan environment: String) async throws -> [String] {
        try await store.all(
            "SELECT org FROM qb_configs WHERE refresh_token IS NOT NULL AND environment IS NOT NULL AND environment <> \(environment) ORDER BY org COLLATE \"C\"",
            as: String.self
        )
    }

    /// The company the org is bound to now (connected or waiting to reconnect), nil when none.
    public func realm(of org: OrgID) async throws -> String? {
        try await store.first("SELECT realm_id FROM qb_configs WHERE org = \(org.rawValue)", as: String?.self) ?? nil
    }

    /// Stores a new grant for the org (replacing any earlier one); refuses a realm bound elsewhere
    /// (``ConnectionRepository/RealmInUse``), and a company other than the one its mappings belong
    /// to unless `fresh` (which archives them, in the same transaction;
    /// ``ConnectionRepository/RealmChanged`` otherwise).
    public func connect(org: OrgID, realmID: String, environment: String, tokens: TokenSet, fresh: Bool = false, now: Date) async throws {
        let vault = vault
        let logger = logger
        try await store.write { connection in
            let n = now.seconds
            // The org's row first, locked: a concurrent connect of the same org waits here.
            try await connection.query(
                "INSERT INTO qb_configs (org, created_at, updated_at) VALUES (\(org.rawValue), \(n), \(n)) ON CONFLICT (org) DO NOTHING", logger: logger
            )
            var generation: Int64 = 0
            for try await stored in try await connection.query(
                "SELECT token_generation FROM qb_configs WHERE org = \(org.rawValue) FOR UPDATE", logger: logger
            ).decode(Int64.self) { generation = stored }
            for try await owner in try await connection.query(
                "SELECT org FROM qb_configs WHERE realm_id = \(realmID) AND org <> \(org.rawValue)", logger: logger
            ).decode(String.self) {
                _ = owner
                throw ConnectionRepository.RealmInUse()
            }
            try await PostgresMappingRealm.bind(org: org, realmID: realmID, fresh: fresh, now: now, on: connection, logger: logger)
            // Sealed for the generation this write gives the row (L17).
            let (access, refresh) = try vault.seal(tokens, org: org, realm: realmID, generation: generation + 1)
            do {
                try await connection.query(
                    """
                    UPDATE qb_configs SET realm_id = \(realmID), environment = \(environment), status = 'connected', access_token = \(access),
                        refresh_token = \(refresh), access_token_expires_at = \(tokens.accessTokenExpiresAt.seconds),
                        refresh_token_expires_at = \(tokens.refreshTokenExpiresAt.seconds),
                        refresh_token_hard_expires_at = \(tokens.refreshTokenHardExpiresAt?.seconds),
                        connected_at = \(n), grant_started_at = \(n), last_refresh_at = \(n), last_error = NULL, refresh_failures = 0,
                        next_retry_at = NULL, reconnect_warned_at = NULL, token_generation = token_generation + 1, updated_at = \(n)
                    WHERE org = \(org.rawValue)
                    """,
                    logger: logger
                )
            } catch where PostgresFailure.sqlState(of: error) == "23505" {
                // Another org bound the realm since the check (its commit came first).
                throw ConnectionRepository.RealmInUse()
            }
        }
    }

    public func setCompanyName(_ name: String, org: OrgID) async throws {
        try await store.execute("UPDATE qb_configs SET company_name = \(name) WHERE org = \(org.rawValue)")
    }
}
