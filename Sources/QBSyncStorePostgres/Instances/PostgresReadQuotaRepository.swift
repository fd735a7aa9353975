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

    /// Claims the telling of the month's budget state: true for the first instance to see it, false
    /// for the others (`qb_read_state_told` holds that state already).
    public func claimStateChange(month: String, to state: String) async throws -> Bool {
        let logger = store.logger
        return try await store.write { connection in
            try await connection.collect(
                """
                INSERT INTO qb_read_state_told (month, state) VALUES (\(month), \(state))
                ON CONFLICT (month) DO UPDATE SET state = EXCLUDED.state
                WHERE qb_read_state_told.state <> EXCLUDED.state
                RETURNING 1
                """,
                logger: logger, Int32.self
            )
        }.count == 1
    }

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

    /// Counts one read of a class for a company, unconditionally (the SQLite store's call: the
    /// caller checked the budget). Both counts in one transaction.
    public func count(_ readClass: ReadClass, realmID: String, month: String) async throws {
        let column = Self.column(readClass)
        let logger = store.logger
        try await store.write { connection in
            // The column name comes from a closed enum, never from input.
            try await connection.query(
                """
                INSERT INTO qb_read_months (month, \(unescaped: column)) VALUES (\(month), 1)
                ON CONFLICT (month) DO UPDATE SET \(unescaped: column) = qb_read_months.\(unescaped: column) + 1
                """,
                logger: logger
            )
            try await connection.query(
                """
                INSERT INTO qb_read_meter (realm_id, month, reads) VALUES (\(realmID), \(month), 1)
                ON CONFLICT (realm_id, month) DO UPDATE SET reads = qb_read_meter.reads + 1
                """,
                logger: logger
            )
        }
    }

    /// The companies with the most reads in a month, with their org when one is connected.
    public func byRealm(month: String, limit: Int) async throws -> [(realmID: String, org: String?, reads: Int)] {
        try await store.rows(
            """
            SELECT m.realm_id, c.org, m.reads FROM qb_read_meter m LEFT JOIN qb_configs c ON c.realm_id = m.realm_id
            WHERE m.month = \(month) ORDER BY m.reads DESC, m.realm_id COLLATE "C" LIMIT \(Int64(limit))
            """
        ) { row in
            let (realmID, org, reads) = try row.decode((String, String?, Int64).self)
            return (realmID: realmID, org: org, reads: Int(reads))
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
