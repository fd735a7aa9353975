import Crypto
public import Foundation
import GRDB
public import QBSyncCore

/// The tokens of one grant, as Intuit issued them.
public struct TokenSet: Sendable {
    public var accessToken: Secret<String>
    public var refreshToken: Secret<String>
    public var accessTokenExpiresAt: Date
    public var refreshTokenExpiresAt: Date
    /// The grant's five-year end, when Intuit said (`x_refresh_token_hard_expires_in`).
    public var refreshTokenHardExpiresAt: Date?

    public init(accessToken: Secret<String>, refreshToken: Secret<String>, accessTokenExpiresAt: Date, refreshTokenExpiresAt: Date, refreshTokenHardExpiresAt: Date?) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.accessTokenExpiresAt = accessTokenExpiresAt
        self.refreshTokenExpiresAt = refreshTokenExpiresAt
        self.refreshTokenHardExpiresAt = refreshTokenHardExpiresAt
    }
}

/// A connected org's row with its tokens opened.
public struct Connection: Sendable {
    public var org: OrgID
    public var realmID: String
    public var status: ConnectionStatus
    public var tokens: TokenSet
    /// Bumped by every token change: a refresh commits only over the generation it started from.
    public var generation: Int64
    public var refreshFailures: Int
    public var nextRetryAt: Date?
    public var lastRefreshAt: Date?

    public init(
        org: OrgID, realmID: String, status: ConnectionStatus, tokens: TokenSet, generation: Int64, refreshFailures: Int, nextRetryAt: Date?,
        lastRefreshAt: Date?
    ) {
        self.org = org
        self.realmID = realmID
        self.status = status
        self.tokens = tokens
        self.generation = generation
        self.refreshFailures = refreshFailures
        self.nextRetryAt = nextRetryAt
        self.lastRefreshAt = lastRefreshAt
    }
}

extension Connection {
    /// The row as a refresh commits it over this one: the new pair at the next generation, the
    /// failures cleared.
    public func refreshed(with tokens: TokenSet, now: Date) -> Connection {
        var connection = self
        connection.tokens = tokens
        connection.generation = generation + 1
        connection.refreshFailures = 0
        connection.nextRetryAt = nil
        connection.lastRefreshAt = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        return connection
    }
}

/// One row of the refresh schedule.
public struct ScheduleEntry: Sendable, Equatable {
    public var org: OrgID
    public var accessTokenExpiresAt: Date
    public var nextRetryAt: Date?
    public var reconnectBy: Date?
    public var reconnectWarnedAt: Date?

    public init(org: OrgID, accessTokenExpiresAt: Date, nextRetryAt: Date?, reconnectBy: Date?, reconnectWarnedAt: Date?) {
        self.org = org
        self.accessTokenExpiresAt = accessTokenExpiresAt
        self.nextRetryAt = nextRetryAt
        self.reconnectBy = reconnectBy
        self.reconnectWarnedAt = reconnectWarnedAt
    }
}

/// What `oauth.complete` found for a state.
public enum StateConsumption: Sendable, Equatable {
    /// First use: the org it was issued for.
    case fresh(OrgID)
    /// The same state and code again (a double callback): the org, so the call can be idempotent.
    case repeated(OrgID)
    /// Unknown, expired, or already used with another code.
    case invalid
}

/// Connections and their sealed tokens (`qb_configs`, `oauth_states`). The only place tokens are
/// sealed or opened; every write is one transaction.
public struct ConnectionRepository: Sendable {
    let writer: any DatabaseWriter
    let vault: TokenVault
    /// The store it works on (other repositories of the same store are built from it).
    public let store: Store

    public init(store: Store, vault: TokenVault) {
        writer = store.writer
        self.vault = vault
        self.store = store
    }

    public static func hash(_ text: String) -> Data { Data(SHA256.hash(data: Data(text.utf8))) }

    // MARK: OAuth states

    public func insertState(_ state: Secret<String>, org: OrgID, expiresAt: Date, now: Date) async throws {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM oauth_states WHERE expires_at < ?", arguments: [Self.seconds(now) - 86_400])
            try db.execute(
                sql: "INSERT INTO oauth_states (state_hash, org, created_at, expires_at) VALUES (?, ?, ?, ?)",
                arguments: [Self.hash(state.value), org.rawValue, Self.seconds(now), Self.seconds(expiresAt)]
            )
        }
    }

    /// Marks a state used, once; the same code again is recognised as a repeated callback.
    public func consumeState(_ state: Secret<String>, code: Secret<String>, now: Date) async throws -> StateConsumption {
        try await writer.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM oauth_states WHERE state_hash = ?", arguments: [Self.hash(state.value)]),
                let org = OrgID(row["org"] as String)
            else { return .invalid }
            let codeHash = Self.hash(code.value)
            if let _: Int64 = row["used_at"] {
                return (row["code_hash"] as Data?) == codeHash ? .repeated(org) : .invalid
            }
            guard (row["expires_at"] as Int64) >= Self.seconds(now) else { return .invalid }
            try db.execute(
                sql: "UPDATE oauth_states SET used_at = ?, code_hash = ? WHERE state_hash = ?",
                arguments: [Self.seconds(now), codeHash, Self.hash(state.value)]
            )
            return .fresh(org)
        }
    }

    // MARK: Connections

    /// The realm is bound to another org.
    public struct RealmInUse: Error {
        public init() {}
    }

    /// Whether another org holds this realm.
    public func realmOwner(_ realmID: String) async throws -> OrgID? {
        try await writer.read { db in
            try String.fetchOne(db, sql: "SELECT org FROM qb_configs WHERE realm_id = ?", arguments: [realmID]).flatMap(OrgID.init)
        }
    }

    /// The org's mappings belong to another QuickBooks company (``connect(org:realmID:environment:tokens:fresh:now:)`` without `fresh`).
    public struct RealmChanged: Error {
        public var previousRealmID: String

        public init(previousRealmID: String) { self.previousRealmID = previousRealmID }
    }

    /// Another company than `realmID` that the org's mappings belong to, if any.
    public func mappedCompany(org: OrgID, otherThan realmID: String) async throws -> String? {
        try await writer.read { db in try MappingRealm.otherCompany(db, org: org, realmID: realmID) }
    }

    /// The org the OAuth state was issued for, without using it up.
    public func stateOwner(_ state: Secret<String>) async throws -> OrgID? {
        try await writer.read { db in
            try String.fetchOne(db, sql: "SELECT org FROM oauth_states WHERE state_hash = ?", arguments: [Self.hash(state.value)]).flatMap(OrgID.init)
        }
    }

    /// Orgs holding a grant of another QuickBooks environment than `environment` (F15).
    public func orgsConnected(toOtherEnvironmentThan environment: String) async throws -> [String] {
        try await writer.read { db in
            try String.fetchAll(
                db, sql: "SELECT org FROM qb_configs WHERE refresh_token IS NOT NULL AND environment IS NOT NULL AND environment != ? ORDER BY org",
                arguments: [environment]
            )
        }
    }

    /// The company the org is bound to now (connected or waiting to reconnect), nil when none.
    public func realm(of org: OrgID) async throws -> String? {
        try await writer.read { db in try String.fetchOne(db, sql: "SELECT realm_id FROM qb_configs WHERE org = ?", arguments: [org.rawValue]) }
    }

    /// Stores a new grant for the org (replacing any earlier one); refuses a realm bound elsewhere,
    /// and a company other than the one its mappings belong to unless `fresh` (which archives
    /// them, in the same transaction).
    public func connect(org: OrgID, realmID: String, environment: String, tokens: TokenSet, fresh: Bool = false, now: Date) async throws {
        let vault = self.vault
        try await writer.write { db in
            if let owner = try String.fetchOne(db, sql: "SELECT org FROM qb_configs WHERE realm_id = ?", arguments: [realmID]), owner != org.rawValue {
                throw RealmInUse()
            }
            do {
                try MappingRealm.bind(db, org: org, realmID: realmID, fresh: fresh, now: now)
            } catch let changed as MappingRealm.Changed {
                throw RealmChanged(previousRealmID: changed.previousRealmID)
            }
            let n = Self.seconds(now)
            try db.execute(
                sql: """
                    INSERT INTO qb_configs (org, created_at, updated_at) VALUES (?, ?, ?) ON CONFLICT(org) DO NOTHING
                    """,
                arguments: [org.rawValue, n, n]
            )
            // Sealed for the generation this write gives the row (L17).
            let generation = try Int64.fetchOne(db, sql: "SELECT token_generation FROM qb_configs WHERE org = ?", arguments: [org.rawValue]) ?? 0
            let (access, refresh) = try vault.seal(tokens, org: org, realm: realmID, generation: generation + 1)
            try db.execute(
                sql: """
                    UPDATE qb_configs SET realm_id = ?, environment = ?, status = 'connected', access_token = ?, refresh_token = ?,
                        access_token_expires_at = ?, refresh_token_expires_at = ?, refresh_token_hard_expires_at = ?,
                        connected_at = ?, grant_started_at = ?, last_refresh_at = ?, last_error = NULL, refresh_failures = 0,
                        next_retry_at = NULL, reconnect_warned_at = NULL, token_generation = token_generation + 1, updated_at = ?
                    WHERE org = ?
                    """,
                arguments: [
                    realmID, environment, access, refresh, Self.seconds(tokens.accessTokenExpiresAt), Self.seconds(tokens.refreshTokenExpiresAt),
                    tokens.refreshTokenHardExpiresAt.map(Self.seconds), n, n, n, n, org.rawValue,
                ]
            )
        }
    }

    public func setCompanyName(_ name: String, org: OrgID) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE qb_configs SET company_name = ? WHERE org = ?", arguments: [name, org.rawValue])
        }
    }

    /// The org's connection with its tokens opened; nil when it has none.
    public func connection(_ org: OrgID) async throws -> Connection? {
        struct Raw: Sendable {
            var realmID: String, access: Data, refresh: Data, status: ConnectionStatus
            var accessExpiry: Int64?, refreshExpiry: Int64?, hardExpiry: Int64?, generation: Int64, failures: Int, nextRetry: Int64?, lastRefresh: Int64?
        }
        let raw: Raw? = try await writer.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM qb_configs WHERE org = ?", arguments: [org.rawValue]),
                let realmID: String = row["realm_id"], let access: Data = row["access_token"], let refresh: Data = row["refresh_token"],
                let status = ConnectionStatus(rawValue: row["status"])
            else { return nil }
            return Raw(
                realmID: realmID, access: access, refresh: refresh, status: status, accessExpiry: row["access_token_expires_at"],
                refreshExpiry: row["refresh_token_expires_at"], hardExpiry: row["refresh_token_hard_expires_at"], generation: row["token_generation"],
                failures: row["refresh_failures"], nextRetry: row["next_retry_at"], lastRefresh: row["last_refresh_at"]
            )
        }
        guard let raw else { return nil }
        return Connection(
            org: org, realmID: raw.realmID, status: raw.status,
            tokens: try vault.open(
                access: raw.access, refresh: raw.refresh, org: org, realm: raw.realmID, generation: raw.generation, accessExpiry: raw.accessExpiry,
                refreshExpiry: raw.refreshExpiry, hardExpiry: raw.hardExpiry
            ),
            generation: raw.generation, refreshFailures: raw.failures, nextRetryAt: Self.date(raw.nextRetry), lastRefreshAt: Self.date(raw.lastRefresh)
        )
    }

    /// Commits refreshed tokens, but only over the generation the refresh started from.
    /// Returns false when another writer changed the tokens meanwhile.
    @discardableResult
    public func storeRefreshed(org: OrgID, realmID: String, tokens: TokenSet, expectedGeneration: Int64, now: Date) async throws -> Bool {
        let (access, refresh) = try vault.seal(tokens, org: org, realm: realmID, generation: expectedGeneration + 1)
        return try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE qb_configs SET access_token = ?, refresh_token = ?, access_token_expires_at = ?, refresh_token_expires_at = ?,
                        refresh_token_hard_expires_at = COALESCE(?, refresh_token_hard_expires_at), last_refresh_at = ?, last_error = NULL,
                        refresh_failures = 0, next_retry_at = NULL, token_generation = token_generation + 1, updated_at = ?
                    WHERE org = ? AND token_generation = ? AND status = 'connected'
                    """,
                arguments: [
                    access, refresh, Self.seconds(tokens.accessTokenExpiresAt), Self.seconds(tokens.refreshTokenExpiresAt),
                    tokens.refreshTokenHardExpiresAt.map(Self.seconds), Self.seconds(now), Self.seconds(now), org.rawValue, expectedGeneration,
                ]
            )
            return db.changesCount == 1
        }
    }

    /// A refresh committed only over `seenGeneration` (see the protocol's
    /// ``ConnectionStore/refreshLocked(org:seenGeneration:now:_:)``). SQLite is one instance's own
    /// file with one writer, and GRDB's write transactions take no `async` call (Intuit's), so no
    /// transaction is held across it: the store is proved writable first, and the pair is committed
    /// only over the generation that was refreshed (the daemon's single flight keeps two refreshes
    /// of one org from running at once in the one process).
    public func refreshLocked(
        org: OrgID, seenGeneration: Int64, now: Date, _ refresh: @Sendable (TokenSet) async throws -> TokenSet
    ) async throws -> LockedRefresh {
        guard let current = try await connection(org), current.status == .connected else { return .notConnected }
        guard current.generation == seenGeneration else { return .alreadyRefreshed(current) }
        try await recordRefreshStarted(org: org, now: now)
        let tokens = try await refresh(current.tokens)
        guard try await storeRefreshed(org: org, realmID: current.realmID, tokens: tokens, expectedGeneration: seenGeneration, now: now) else {
            // Replaced meanwhile (a reconnection, a disconnection): what is stored now wins.
            guard let latest = try await connection(org), latest.status == .connected else { return .notConnected }
            return .alreadyRefreshed(latest)
        }
        // As committed (not read again: a failed read must not pass for a failed commit).
        return .refreshed(current.refreshed(with: tokens, now: now))
    }

    /// A small write before a refresh asks Intuit: a store that cannot commit now would lose the
    /// rotated pair Intuit answers with, so the refresh is not asked for (F2).
    public func recordRefreshStarted(org: OrgID, now: Date) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE qb_configs SET updated_at = ? WHERE org = ?", arguments: [Self.seconds(now), org.rawValue])
        }
    }

    /// A refresh failed for a reason other than `invalid_grant`: the error, and when to try again.
    public func recordRefreshFailure(org: OrgID, error: String, nextRetryAt: Date, now: Date) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE qb_configs SET last_error = ?, refresh_failures = refresh_failures + 1, next_retry_at = ?, updated_at = ? WHERE org = ?",
                arguments: [error, Self.seconds(nextRetryAt), Self.seconds(now), org.rawValue]
            )
        }
    }

    /// Intuit refused the grant: the org must connect again. Returns the status it had.
    public func markNeedsReauthorization(org: OrgID, error: String, now: Date) async throws -> ConnectionStatus? {
        try await writer.write { db in
            let previous = try String.fetchOne(db, sql: "SELECT status FROM qb_configs WHERE org = ?", arguments: [org.rawValue]).flatMap(ConnectionStatus.init)
            try db.execute(
                sql: "UPDATE qb_configs SET status = 'needs_reauthorization', last_error = ?, next_retry_at = NULL, updated_at = ? WHERE org = ?",
                arguments: [error, Self.seconds(now), org.rawValue]
            )
            return previous
        }
    }

    /// Forgets the tokens and the realm binding. Returns the status it had (nil: unknown org).
    public func disconnect(org: OrgID, now: Date) async throws -> ConnectionStatus? {
        try await writer.write { db in
            let previous = try String.fetchOne(db, sql: "SELECT status FROM qb_configs WHERE org = ?", arguments: [org.rawValue]).flatMap(ConnectionStatus.init)
            try db.execute(
                sql: """
                    UPDATE qb_configs SET status = 'disconnected', access_token = NULL, refresh_token = NULL, access_token_expires_at = NULL,
                        refresh_token_expires_at = NULL, refresh_token_hard_expires_at = NULL, realm_id = NULL, next_retry_at = NULL,
                        refresh_failures = 0, token_generation = token_generation + 1, updated_at = ?
                    WHERE org = ?
                    """,
                arguments: [Self.seconds(now), org.rawValue]
            )
            return previous
        }
    }

    public func markReconnectWarned(org: OrgID, now: Date) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE qb_configs SET reconnect_warned_at = ? WHERE org = ?", arguments: [Self.seconds(now), org.rawValue])
        }
    }

    /// Every connected org's refresh schedule (for the scheduler, at start and after changes).
    public func schedule() async throws -> [ScheduleEntry] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT org, access_token_expires_at, next_retry_at, refresh_token_expires_at, refresh_token_hard_expires_at, reconnect_warned_at
                    FROM qb_configs WHERE status = 'connected' AND refresh_token IS NOT NULL
                    """
            ).compactMap { row in
                guard let org = OrgID(row["org"] as String) else { return nil }
                return ScheduleEntry(
                    org: org, accessTokenExpiresAt: Self.date(row["access_token_expires_at"]) ?? .distantPast, nextRetryAt: Self.date(row["next_retry_at"]),
                    reconnectBy: [Self.date(row["refresh_token_expires_at"]), Self.date(row["refresh_token_hard_expires_at"])].compactMap { $0 }.min(),
                    reconnectWarnedAt: Self.date(row["reconnect_warned_at"])
                )
            }
        }
    }

    /// The orgs whose stored refresh token does not open with this vault's key: at start-up, a
    /// wrong key file must stop the daemon, not turn every org into "reconnect" one by one.
    public func tokensNotOpening() async throws -> (checked: Int, failing: [String]) {
        let vault = self.vault
        // One row at a time from a cursor: 10,000 sealed tokens are never all in memory at once.
        return try await writer.read { db in
            var checked = 0
            var failing: [String] = []
            let rows = try Row.fetchCursor(db, sql: "SELECT org, realm_id, refresh_token, token_generation FROM qb_configs WHERE refresh_token IS NOT NULL AND realm_id IS NOT NULL")
            while let row = try rows.next() {
                checked += 1
                let name: String = row["org"]
                guard let org = OrgID(name), let realm: String = row["realm_id"], let refresh: Data = row["refresh_token"],
                    (try? vault.open(refresh, org: org, realm: realm, column: .refreshToken, generation: row["token_generation"])) != nil  // try?: the question is whether it opens
                else {
                    failing.append(name)
                    continue
                }
            }
            return (checked, failing)
        }
    }

    /// Re-seals every token under a new key, in one transaction (`qbsyncd rotate-token-key`).
    public func reseal(with newVault: TokenVault) async throws -> Int {
        try await writer.write { db in
            var count = 0
            for row in try Row.fetchAll(db, sql: "SELECT org, realm_id, access_token, refresh_token, token_generation FROM qb_configs WHERE refresh_token IS NOT NULL") {
                guard let org = OrgID(row["org"] as String), let realm: String = row["realm_id"], let access: Data = row["access_token"],
                    let refresh: Data = row["refresh_token"]
                else { continue }
                // The generation is unchanged by this write: the row is re-sealed for it (and a version-1 row migrates).
                let (newAccess, newRefresh) = try vault.reseal(
                    access: access, refresh: refresh, with: newVault, org: org, realm: realm, generation: row["token_generation"]
                )
                try db.execute(sql: "UPDATE qb_configs SET access_token = ?, refresh_token = ? WHERE org = ?", arguments: [newAccess, newRefresh, org.rawValue])
                count += 1
            }
            return count
        }
    }

    static func seconds(_ date: Date) -> Int64 { Int64(date.timeIntervalSince1970.rounded(.down)) }
    static func date(_ seconds: Int64?) -> Date? { seconds.map { Date(timeIntervalSince1970: TimeInterval($0)) } }
}
