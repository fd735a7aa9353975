import Foundation
import GRDB
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// F2: a refreshed pair whose commit fails is kept, used and committed again; the superseded
/// refresh token is never presented to Intuit (which refuses it for good once it rotated).
@Suite(.serialized, .timeLimit(.minutes(3))) struct TokenCommitTests {
    /// Holds SQLite's write lock on the daemon's database from another process's point of view
    /// (a checkpointing tool, a backup, a disk that stalls) until `release()`.
    final class WriteLock: @unchecked Sendable {
        private let release = DispatchSemaphore(value: 0)
        private let held = DispatchSemaphore(value: 0)
        private let done = DispatchSemaphore(value: 0)

        init(path: String) throws {
            let queue = try DatabaseQueue(path: path)
            Thread.detachNewThread { [release, held, done] in
                try? queue.writeWithoutTransaction { db in  // try?: a failure shows as the test's own expectations
                    try db.execute(sql: "BEGIN IMMEDIATE")
                    held.signal()
                    release.wait()
                    try db.execute(sql: "COMMIT")
                }
                done.signal()
            }
            held.wait()
        }

        func unlock() {
            release.signal()
            done.wait()
        }
    }

    func generation(_ pair: Pair) throws -> Int64? {
        var configuration = Configuration()
        configuration.readonly = true
        return try DatabaseQueue(path: pair.daemon.stateDirectory + "/qbsyncd.sqlite", configuration: configuration).read { db in
            try Int64.fetchOne(db, sql: "SELECT token_generation FROM qb_configs WHERE org = 'acme'")
        }
    }

    @Test func aRefreshedPairThatCannotBeStoredIsKeptAndStoredLater() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        let before = try #require(try generation(pair))
        // A day on at Intuit: the next refresh rotates the refresh token (the old one is refused from then on).
        _ = try await pair.http.post("/sim/clock", json: ["advanceSeconds": 90_000])
        // Intuit answers the refresh slowly, and the store cannot write while it does.
        _ = try await pair.http.post("/sim/faults", json: ["delayMs": 2_000, "path": "/oauth2/v1/tokens/bearer", "count": 1])

        // When a refresh starts, and the store's write lock is taken while Intuit answers
        let refresh = Task { try await pair.daemon.connect().call(TokenRefreshCall.self, OrgParams(org: .test("acme"))) }
        _ = try await eventually(timeout: .seconds(10), "the refresh reached Intuit") { () -> Bool? in
            try await pair.http.get("/sim/faults").json["injected"]?.intValue ?? 0 >= 1 ? true : nil
        }
        let lock = try WriteLock(path: pair.daemon.stateDirectory + "/qbsyncd.sqlite")
        let answer = await refresh.result
        lock.unlock()

        // Then the refresh answered (Intuit's new pair is in use), and the pair is stored once the store can write
        #expect((try? answer.get())?.status == .connected, "\(answer)")
        _ = try await eventually(timeout: .seconds(20), "the kept pair stored") { () -> Bool? in try generation(pair) ?? 0 > before ? true : nil }
        #expect(pair.daemon.log.contains("kept in memory"))

        // And the next refresh presents the new refresh token: Intuit accepts it, the org stays connected
        let again = try await pair.control.call(TokenRefreshCall.self, OrgParams(org: .test("acme")))
        #expect(again.status.rawValue == "connected")
        #expect(try await pair.control.call(OrgTestCall.self, OrgParams(org: .test("acme"))).ok == true)
    }

    @Test func aStoreThatCannotWriteIsNotAskedToRecordARotatedToken() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        _ = try await pair.http.post("/sim/clock", json: ["advanceSeconds": 90_000])
        // Every token request Intuit receives from here on is counted (a 1 ms delay rule on the endpoint).
        _ = try await pair.http.post("/sim/faults", json: ["delayMs": 1, "path": "/oauth2/v1/tokens/bearer", "count": 10])
        func asked() async throws -> Int64 { try await pair.http.get("/sim/faults").json["injected"]?.intValue ?? -1 }

        // When the store cannot write, a refresh is refused before Intuit is asked
        let lock = try WriteLock(path: pair.daemon.stateDirectory + "/qbsyncd.sqlite")
        var failed = false
        do { _ = try await pair.control.call(TokenRefreshCall.self, OrgParams(org: .test("acme"))) } catch { failed = true }
        lock.unlock()
        #expect(failed)
        #expect(try await asked() == 0, "Intuit was not asked")

        // And once it can, the refresh rotates and is stored: the org stays connected
        #expect(try await pair.control.call(TokenRefreshCall.self, OrgParams(org: .test("acme"))).status.rawValue == "connected")
        #expect(try await asked() == 1)
        #expect(try await pair.control.call(TokenRefreshCall.self, OrgParams(org: .test("acme"))).status.rawValue == "connected")
    }
}
