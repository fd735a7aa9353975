public import QBSyncCore
import GRDB
public import Foundation

/// Counts of organisations by connection status, for `daemon.status` and systemd's STATUS line.
public struct OrgStatusCounts: Sendable, Equatable {
    public var total: Int
    public var connected: Int
    public var needsReauthorization: Int

    public init(total: Int = 0, connected: Int = 0, needsReauthorization: Int = 0) {
        self.total = total
        self.connected = connected
        self.needsReauthorization = needsReauthorization
    }
}

/// Reads and writes `qb_configs`, one transaction per call.
public struct OrgRepository: Sendable {
    let writer: any DatabaseWriter

    public init(store: Store) { self.writer = store.writer }

    public func list() async throws -> [OrgInfo] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM qb_configs ORDER BY org").compactMap(Self.orgInfo)
        }
    }

    /// A page in org order after `after`, optionally of one status.
    public func list(status: ConnectionStatus?, after: String?, limit: Int) async throws -> [OrgInfo] {
        try await writer.read { db in
            var sql = "SELECT * FROM qb_configs WHERE org > ?"
            var arguments: StatementArguments = [after ?? ""]
            if let status {
                sql += " AND status = ?"
                arguments += [status.rawValue]
            }
            sql += " ORDER BY org LIMIT ?"
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).compactMap(Self.orgInfo)
        }
    }

    public func find(_ org: OrgID) async throws -> OrgInfo? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM qb_configs WHERE org = ?", arguments: [org.rawValue]).flatMap(Self.orgInfo)
        }
    }

    public func statusCounts() async throws -> OrgStatusCounts {
        try await writer.read { db in
            var counts = OrgStatusCounts()
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM qb_configs GROUP BY status") {
                let n: Int = row["n"]
                counts.total += n
                switch row["status"] as String {
                case ConnectionStatus.connected.rawValue: counts.connected += n
                case ConnectionStatus.needsReauthorization.rawValue: counts.needsReauthorization += n
                default: break
                }
            }
            return counts
        }
    }

    /// Creates the organisation's row if it does not exist (status `disconnected`).
    public func ensure(_ org: OrgID, now: Date = Date()) async throws {
        try await writer.write { db in
            let seconds = Int64(now.timeIntervalSince1970)
            try db.execute(
                sql: "INSERT INTO qb_configs (org, created_at, updated_at) VALUES (?, ?, ?) ON CONFLICT(org) DO NOTHING",
                arguments: [org.rawValue, seconds, seconds]
            )
        }
    }

    static func orgInfo(_ row: Row) -> OrgInfo? {
        guard let org = OrgID(row["org"]), let status = ConnectionStatus(rawValue: row["status"]) else { return nil }
        func date(_ column: String) -> Date? {
            (row[column] as Int64?).map { Date(timeIntervalSince1970: TimeInterval($0)) }
        }
        return OrgInfo(
            org: org,
            status: status,
            realmID: row["realm_id"],
            companyName: row["company_name"],
            environment: row["environment"],
            connectedAt: date("connected_at"),
            accessTokenExpiresAt: date("access_token_expires_at"),
            refreshTokenExpiresAt: date("refresh_token_expires_at"),
            lastRefreshAt: date("last_refresh_at"),
            lastError: row["last_error"],
            reconnectBy: status == .connected ? [date("refresh_token_expires_at"), date("refresh_token_hard_expires_at")].compactMap { $0 }.min() : nil
        )
    }
}
