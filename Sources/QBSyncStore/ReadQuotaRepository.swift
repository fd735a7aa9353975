import Foundation
import GRDB
public import QBSyncCore

/// The read budget's counts: per month and class of caller (`qb_read_months`), and per company
/// (`qb_read_meter`). A read is counted, in one transaction for both, before it is sent.
public struct ReadQuotaRepository: Sendable {
    let writer: any DatabaseWriter

    public init(store: Store) { writer = store.writer }

    /// This month's counts as a budget with the given limits.
    public func load(month: String, budget: Int, reservePercent: Int) async throws -> ReadBudget {
        try await writer.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM qb_read_months WHERE month = ?", arguments: [month]) else {
                return ReadBudget(budget: budget, reservePercent: reservePercent, month: month)
            }
            let used: [ReadClass: Int] = [.sweep: row["sweep"], .event: row["event"], .operator: row["operator"]]
            return ReadBudget(budget: budget, reservePercent: reservePercent, month: month, used: used, refusedByIntuit: (row["refused_by_intuit"] as Int) != 0)
        }
    }

    /// Counts one read of a class for a company.
    public func count(_ readClass: ReadClass, realmID: String, month: String) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "INSERT INTO qb_read_months (month, \(readClass.rawValue)) VALUES (?, 1) ON CONFLICT (month) DO UPDATE SET \(readClass.rawValue) = \(readClass.rawValue) + 1",
                arguments: [month]
            )
            try db.execute(
                sql: "INSERT INTO qb_read_meter (realm_id, month, reads) VALUES (?, ?, 1) ON CONFLICT (realm_id, month) DO UPDATE SET reads = reads + 1",
                arguments: [realmID, month]
            )
        }
    }

    /// Intuit refused a read for the monthly limit.
    public func markRefusedByIntuit(month: String) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "INSERT INTO qb_read_months (month, refused_by_intuit) VALUES (?, 1) ON CONFLICT (month) DO UPDATE SET refused_by_intuit = 1",
                arguments: [month]
            )
        }
    }

    /// The companies with the most reads in a month, with their org when one is connected.
    public func byRealm(month: String, limit: Int) async throws -> [(realmID: String, org: String?, reads: Int)] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT m.realm_id, c.org, m.reads FROM qb_read_meter m LEFT JOIN qb_configs c ON c.realm_id = m.realm_id
                    WHERE m.month = ? ORDER BY m.reads DESC, m.realm_id LIMIT ?
                    """,
                arguments: [month, limit]
            ).map { ($0["realm_id"], $0["org"], $0["reads"]) }
        }
    }
}
