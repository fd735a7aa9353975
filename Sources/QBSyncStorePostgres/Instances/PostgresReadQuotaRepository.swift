import Logging
import PostgresNIO
public import QBSyncCore

/// The app-wide read budget counted in the shared database: `qb_read_months` per month and class,
/// `qb_read_meter` per company, as the SQLite store keeps them. Every instance counts against the
/// same row, and a count that would pass the limit is refused by the UPDATE itself, so concurrent
/// instances can never overspend together.
public struct PostgresReadQuotaRepository: Sendable {
    let store: PostgresStore

    public init(store: PostgresStore) { self.store = store }

    /// This month's counts as a budget with the given limits.
    public func load(month: String, budget: Int, reservePercent: Int) async throws -> ReadBudget {
        try await store.read { connection in
            let rows = try await connection.query(
                #"SELECT sweep, event, "operator", refused_by_intuit FROM qb_read_months WHERE month = \#(month)"#, logger: store.logger
            )
            for try await (sweep, event, operatorReads, refused) in rows.decode((Int64, Int64, Int64, Int64).self) {
                let used: [ReadClass: Int] = [.sweep: Int(sweep), .event: Int(event), .operator: Int(operatorReads)]
                return ReadBudget(budget: budget, reservePercent: reservePercent, month: month, used: used, refusedByIntuit: refused != 0)
            }
            return ReadBudget(budget: budget, reservePercent: reservePercent, month: month)
        }
    }

    /// Counts `reads` reads of a class for a company, atomically, only if the month's total stays
    /// at or below `limit` (``ReadBudget/limit(for:)``) and Intuit has not refused the month.
    /// Returns the month's total after counting, or nil when refused (nothing was counted).
    public func count(_ readClass: ReadClass, reads: Int = 1, realmID: String, month: String, limit: Int) async throws -> Int? {
        let column = Self.column(readClass)
        let logger = store.logger
        let n = Int64(reads)
        return try await store.write { connection in
            _ = try await connection.query("INSERT INTO qb_read_months (month) VALUES (\(month)) ON CONFLICT (month) DO NOTHING", logger: logger)
            // The column name comes from a closed enum, never from input.
            let rows = try await connection.query(
                """
                UPDATE qb_read_months SET \(unescaped: column) = \(unescaped: column) + \(n)
                WHERE month = \(month) AND refused_by_intuit = 0 AND sweep + event + "operator" + \(n) <= \(Int64(clamping: limit))
                RETURNING sweep + event + "operator"
                """,
                logger: logger
            )
            var total: Int64?
            for try await value in rows.decode(Int64.self) { total = value }
            guard let total else { return nil }
            _ = try await connection.query(
                """
                INSERT INTO qb_read_meter (realm_id, month, reads) VALUES (\(realmID), \(month), \(n))
                ON CONFLICT (realm_id, month) DO UPDATE SET reads = qb_read_meter.reads + EXCLUDED.reads
                """,
                logger: logger
            )
            return Int(total)
        }
    }

    /// Intuit refused a read for the monthly limit: no instance counts another this month.
    public func markRefusedByIntuit(month: String) async throws {
        let logger = store.logger
        try await store.write { connection in
            _ = try await connection.query(
                """
                INSERT INTO qb_read_months (month, refused_by_intuit) VALUES (\(month), 1)
                ON CONFLICT (month) DO UPDATE SET refused_by_intuit = 1
                """,
                logger: logger
            )
        }
    }

    static func column(_ readClass: ReadClass) -> String {
        switch readClass {
        case .sweep: "sweep"
        case .event: "event"
        case .operator: #""operator""#
        }
    }
}
