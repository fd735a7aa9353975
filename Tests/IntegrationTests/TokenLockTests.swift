import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// Two real `qbsyncd` instances on one PostgreSQL schema refreshing one org's token at the same
/// moment (issue 18, item 2): the refresh runs under the org's row lock, from the look through the
/// call to Intuit to the commit, so the second instance waits and uses the pair the first
/// committed. Intuit rotates the refresh token at every round (the simulator's clock is moved a
/// day on), so a refresh token spent twice would be refused with `invalid_grant`.
@Suite(
    .enabled(if: Cluster.isAvailable, "several instances share a store only on PostgreSQL (QBSYNCD_TEST_BACKEND=postgres)"),
    .serialized, .timeLimit(.minutes(3))
)
struct TokenLockTests {
    static let rounds = 10
    static let tokenPath = "/oauth2/v1/tokens/bearer"

    /// The instance's count of refreshes with this outcome (`/metrics` on its webhook listener).
    static func refreshes(_ outcome: String, at hook: SimClient) async throws -> Int {
        let prefix = #"qbsyncd_token_refreshes_total{outcome="\#(outcome)"} "#
        let metrics = try await hook.get("/metrics").text
        return metrics.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Int($0.dropFirst(prefix.count)) } ?? 0
    }

    @Test func twoInstancesRefreshingOneOrgAtOnceNeverSpendItsRefreshTokenTwice() async throws {
        let cluster = try await Cluster.start(instances: 2)
        defer { cluster.cleanUp() }
        let pair = try await cluster.pair(0)
        _ = try await pair.connect("acme")
        await pair.control.close()
        let controls = [try await cluster.daemons[0].connect(), try await cluster.daemons[1].connect()]
        let hooks = [try await FailoverTests.listener(cluster.daemons[0]), try await FailoverTests.listener(cluster.daemons[1])]
        // Every token request Intuit receives from here on is counted, and answered after half a
        // second: both instances have read the grant before either refresh can commit.
        _ = try await cluster.http.post("/sim/faults", json: ["delayMs": 500, "path": .string(Self.tokenPath), "count": .int(Int64(4 * Self.rounds))])
        func asked() async throws -> Int64 { try await cluster.http.get("/sim/faults").json["injected"]?.intValue ?? -1 }

        for round in 1...Self.rounds {
            // A day on at Intuit: the next refresh rotates the refresh token, the old one is refused from then on.
            _ = try await cluster.http.post("/sim/clock", json: ["advanceSeconds": 90_000])
            // When both instances are asked to refresh acme at the same moment
            async let first = controls[0].call(TokenRefreshCall.self, OrgParams(org: .test("acme")))
            async let second = controls[1].call(TokenRefreshCall.self, OrgParams(org: .test("acme")))
            let (one, two) = try await (first, second)

            // Then both answer connected, and Intuit was asked once: the second waited for the row's lock
            #expect(one.status == .connected && two.status == .connected, "round \(round)\n\(cluster.logs())")
            #expect(try await asked() == Int64(round), "round \(round): one refresh per round\n\(cluster.logs())")
        }

        // And no instance ever presented a spent refresh token, and the org still works
        for (index, hook) in hooks.enumerated() {
            #expect(try await Self.refreshes("invalid_grant", at: hook) == 0, "instance \(index)\n\(cluster.logs())")
        }
        #expect(try await controls[1].call(OrgTestCall.self, OrgParams(org: .test("acme"))).ok == true)
        #expect(try await controls[0].call(OrgTestCall.self, OrgParams(org: .test("acme"))).ok == true)
        for control in controls { await control.close() }
    }
}
