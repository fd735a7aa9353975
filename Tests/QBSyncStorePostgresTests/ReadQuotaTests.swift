import Foundation
import PostgresNIO
import QBSyncCore
@testable import QBSyncStorePostgres
import Testing

/// The app-wide read budget counted in the shared database.
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(3)))
struct ReadQuotaTests {
    @Test func ofSeveralInstancesSeeingAStateChangeOneTellsIt() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { first in
                try await PostgresTestDatabase.withStore(schema: schema) { second in
                    let claims = try await withThrowingTaskGroup(of: Bool.self) { group in
                        for index in 0..<6 {
                            group.addTask { try await PostgresReadQuotaRepository(store: index.isMultiple(of: 2) ? first : second).claimStateChange(month: "2027-02", to: "warning") }
                        }
                        return try await group.reduce(into: []) { $0.append($1) }
                    }
                    #expect(claims.filter { $0 }.count == 1, "one instance tells the change: \(claims)")
                    #expect(try await PostgresReadQuotaRepository(store: second).claimStateChange(month: "2027-02", to: "critical"))
                    #expect(try await PostgresReadQuotaRepository(store: first).claimStateChange(month: "2027-02", to: "critical") == false)
                    #expect(try await PostgresReadQuotaRepository(store: first).claimStateChange(month: "2027-03", to: "critical"), "another month is another change")
                }
            }
        }
    }

    @Test func concurrentCountsStopExactlyAtTheLimit() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { first in
                try await PostgresTestDatabase.withStore(schema: schema) { second in
                    // 30 callers on two instances each ask for 10 reads of a budget of 100
                    let totals = try await withThrowingTaskGroup(of: Int?.self) { group in
                        for index in 0..<30 {
                            group.addTask {
                                try await PostgresReadQuotaRepository(store: index.isMultiple(of: 2) ? first : second)
                                    .count(.event, reads: 10, realmID: "r\(index % 3)", month: "2027-01", limit: 100)
                            }
                        }
                        return try await group.reduce(into: []) { $0.append($1) }
                    }
                    #expect(totals.compactMap { $0 }.sorted() == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100], "ten fit, each total seen once")
                    #expect(totals.filter { $0 == nil }.count == 20)
                    let budget = try await PostgresReadQuotaRepository(store: first).load(month: "2027-01", budget: 100, reservePercent: 5)
                    #expect(budget.total == 100 && budget.used[.event] == 100)
                    #expect(try await PostgresTestDatabase.one("SELECT SUM(reads)::bigint FROM qb_read_meter WHERE month = '2027-01'", as: Int64.self, on: first) == 100)
                }
            }
        }
    }

    @Test func classesShareTheTotalAndIntuitsRefusalStopsEveryone() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { store in
                let quota = PostgresReadQuotaRepository(store: store)
                #expect(try await quota.count(.sweep, reads: 4, realmID: "r", month: "2027-02", limit: 10) == 4)
                #expect(try await quota.count(.operator, reads: 5, realmID: "r", month: "2027-02", limit: 10) == 9)
                #expect(try await quota.count(.event, reads: 2, realmID: "r", month: "2027-02", limit: 10) == nil)
                #expect(try await quota.count(.event, reads: 1, realmID: "r", month: "2027-02", limit: 10) == 10)
                try await quota.markRefusedByIntuit(month: "2027-03")
                #expect(try await quota.count(.operator, realmID: "r", month: "2027-03", limit: 1000) == nil)
                let march = try await quota.load(month: "2027-03", budget: 1000, reservePercent: 5)
                #expect(march.refusedByIntuit && march.total == 0)
                let february = try await quota.load(month: "2027-02", budget: 10, reservePercent: 0)
                #expect(february.used == [.sweep: 4, .event: 1, .operator: 5])
            }
        }
    }
}

/// The SQLite store's calls of the read quota, the same on both stores.
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(3)))
struct ReadQuotaParityTests {
    @Test func countsAddUpPerClassAndPerCompany() async throws {
        try await Backends.each { b in
            try await WebhookPipelineTests.connect(b)
            for _ in 0..<3 { try await b.quota.count(.sweep, realmID: Fixtures.realm, month: "2027-01") }
            try await b.quota.count(.operator, realmID: "42", month: "2027-01")
            try await b.quota.count(.event, realmID: "42", month: "2027-02")
            let budget = try await b.quota.load(month: "2027-01", budget: 100, reservePercent: 5)
            #expect(budget.used[.sweep] == 3 && budget.used[.operator] == 1 && budget.used[.event] == 0 && !budget.refusedByIntuit, "\(b)")
            let top = try await b.quota.byRealm(month: "2027-01", limit: 10)
            #expect(top.map(\.realmID) == [Fixtures.realm, "42"] && top.map(\.reads) == [3, 1] && top.map(\.org) == ["org-hooks", nil], "\(b)")
            try await b.quota.markRefusedByIntuit(month: "2027-01")
            #expect(try await b.quota.load(month: "2027-01", budget: 100, reservePercent: 5).refusedByIntuit, "\(b)")
        }
    }
}
