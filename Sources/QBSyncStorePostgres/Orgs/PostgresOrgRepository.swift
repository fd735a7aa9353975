public import Foundation
import PostgresNIO
public import QBSyncCore
public import QBSyncStore

/// The organisations in `qb_configs` and their status, in PostgreSQL: the calls of the SQLite
/// store's `OrgRepository`, one transaction per call.
public struct PostgresOrgRepository: Sendable {
    let store: PostgresStore

    public init(store: PostgresStore) { self.store = store }

    static let columns = """
        org, status, realm_id, company_name, environment, connected_at, access_token_expires_at, refresh_token_expires_at, last_refresh_at, \
        last_error, refresh_token_hard_expires_at
        """

    public func list() async throws -> [OrgInfo] {
        // COLLATE "C": the byte order SQLite sorts text in, whatever the database's collation.
        try await store.rows("SELECT \(unescaped: Self.columns) FROM qb_configs ORDER BY org COLLATE \"C\"", Self.orgInfo)
    }

    /// A page in org order after `after`, optionally of one status.
    public func list(status: ConnectionStatus?, after: String?, limit: Int) async throws -> [OrgInfo] {
        try await store.rows(
            """
            SELECT \(unescaped: Self.columns) FROM qb_configs
            WHERE org COLLATE "C" > \(after ?? "") AND (\(status?.rawValue)::text IS NULL OR status = \(status?.rawValue))
            ORDER BY org COLLATE "C" LIMIT \(Int64(limit))
            """,
            Self.orgInfo
        )
    }

    public func find(_ org: OrgID) async throws -> OrgInfo? {
        try await store.rows("SELECT \(unescaped: Self.columns) FROM qb_configs WHERE org = \(org.rawValue)", Self.orgInfo).first
    }

    public func statusCounts() async throws -> OrgStatusCounts {
        let rows = try await store.rows("SELECT status, COUNT(*) FROM qb_configs GROUP BY status") { row in try row.decode((String, Int64).self) }
        var counts = OrgStatusCounts()
        for (status, n) in rows {
            counts.total += Int(n)
            switch status {
            case ConnectionStatus.connected.rawValue: counts.connected += Int(n)
            case ConnectionStatus.needsReauthorization.rawValue: counts.needsReauthorization += Int(n)
            default: break
            }
        }
        return counts
    }

    /// Creates the organisation's row if it does not exist (status `disconnected`).
    public func ensure(_ org: OrgID, now: Date = Date()) async throws {
        try await store.execute(
            "INSERT INTO qb_configs (org, created_at, updated_at) VALUES (\(org.rawValue), \(now.seconds), \(now.seconds)) ON CONFLICT (org) DO NOTHING"
        )
    }

    @Sendable static func orgInfo(_ row: PostgresRow) throws -> OrgInfo? {
        let (name, status, realmID, companyName, environment, connectedAt, accessExpiry, refreshExpiry, lastRefresh, lastError, hardExpiry) = try row.decode(
            (String, String, String?, String?, String?, Int64?, Int64?, Int64?, Int64?, String?, Int64?).self
        )
        guard let org = OrgID(name), let status = ConnectionStatus(rawValue: status) else { return nil }
        return OrgInfo(
            org: org, status: status, realmID: realmID, companyName: companyName, environment: environment, connectedAt: Date(seconds: connectedAt),
            accessTokenExpiresAt: Date(seconds: accessExpiry), refreshTokenExpiresAt: Date(seconds: refreshExpiry), lastRefreshAt: Date(seconds: lastRefresh),
            lastError: lastError,
            reconnectBy: status == .connected ? [Date(seconds: refreshExpiry), Date(seconds: hardExpiry)].compactMap { $0 }.min() : nil
        )
    }
}
