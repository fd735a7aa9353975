import Foundation
@testable import QBSyncStorePostgres
import Testing

/// One leader among instances.
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(3)))
struct LeaderLockTests {
    @Test func whileOneInstanceLeadsAnotherIsToldNoThenLeadsAfterIt() async throws {
        try await PostgresTestDatabase.withSchema { schema in
            try await PostgresTestDatabase.withStore(schema: schema) { first async throws in
                try await PostgresTestDatabase.withStore(schema: schema) { second async throws in
                    let name = "overdue-\(schema)"
                    let (entered, enteredContinuation) = AsyncStream.makeStream(of: Void.self)
                    let (release, releaseContinuation) = AsyncStream.makeStream(of: Void.self)
                    async let led = LeaderLock(store: first, name: name).withLeadership { () async -> String in
                        enteredContinuation.yield()
                        for await _ in release { break }
                        return "first"
                    }
                    for await _ in entered { break }
                    #expect(try await LeaderLock(store: second, name: name).withLeadership { "second" } == nil)
                    releaseContinuation.yield()
                    #expect(try await led == "first")
                    #expect(try await LeaderLock(store: second, name: name).withLeadership { "second" } == "second")
                }
            }
        }
    }
}
