import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// Tokens under hostile or damaged conditions (security review F6, L8), through the real daemon.
@Suite(.timeLimit(.minutes(3))) struct TokenHardeningTests {
    @Test func anAuthorizationForAnotherCompanyIsRefusedBeforeAnythingIsStored() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        let other = try await pair.newCompany()
        let (state, redirect) = try await pair.consent("acme", realmID: pair.sim.defaultRealmID)
        let code = try #require(redirect["code"])
        // The redirect's realmId was changed on the way: the grant is for the default company.
        await #expect {
            _ = try await pair.control.call(OAuthCompleteCall.self, .init(state: state, code: code, realmId: other))
        } throws: { error in
            guard let rpc = (error as? ControlClientError)?.rpcError else { return false }
            return rpc.reason == "invalid_params" && rpc.data["field"] == "realmId"
        }
        let org = try await pair.control.call(OrgShowCall.self, OrgParams(org: .test("acme")))
        #expect(org.status == .disconnected && org.realmID == nil, "nothing was stored: \(org)")
        // The honest connection still works.
        #expect(try await pair.connect("acme").status == .connected)
    }

    @Test func oneDamagedTokenRowMarksItsOrgAndTheDaemonRuns() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        _ = try await pair.connect("beta", realmID: try await pair.newCompany())
        pair.daemon.signal(SIGTERM)
        #expect(try await pair.daemon.waitForExit() == 0)
        // The first byte of beta's sealed refresh token flipped, as a damaged row would be.
        if TestBackend.isPostgres {
            let flip = "UPDATE qb_configs SET refresh_token = set_byte(refresh_token, 0, get_byte(refresh_token, 0) # 255) WHERE org = 'beta'"
            #expect(try await TestStore.outcomes(pair.daemon, statements: [flip]) == ["allowed"])
        } else {
            let damage = try await runCommand("/usr/bin/env", ["python3", "-c", """
                import sqlite3, sys
                db = sqlite3.connect(sys.argv[1])
                blob = db.execute("SELECT refresh_token FROM qb_configs WHERE org = 'beta'").fetchone()[0]
                db.execute("UPDATE qb_configs SET refresh_token = ? WHERE org = 'beta'", (bytes([blob[0] ^ 0xff]) + blob[1:],))
                db.commit()
                """, pair.daemon.stateDirectory + "/qbsyncd.sqlite"], environment: ["PATH": "/usr/bin:/bin"])
            #expect(damage.status == 0, "\(damage.stderr)")
        }
        try await pair.daemon.start()
        let control = try await pair.daemon.connect()
        let beta = try await control.call(OrgShowCall.self, OrgParams(org: .test("beta")))
        #expect(beta.status.rawValue == "needs_reauthorization")
        #expect(beta.lastError?.contains("cannot be opened") == true)
        #expect(try await control.call(OrgShowCall.self, OrgParams(org: .test("acme"))).status.rawValue == "connected")
        #expect(try await control.call(OrgTestCall.self, OrgParams(org: .test("acme"))).ok == true)
        #expect(pair.daemon.log.contains("an organisation's stored tokens cannot be opened"))
        await control.close()
    }

    /// A company id is 1 to 19 ASCII digits, not any Unicode numeral (L6).
    @Test func aRealmIdIsOneToNineteenASCIIDigits() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        for realm in ["\u{0661}\u{0662}\u{0663}", String(repeating: "1", count: 20), "12a", ""] {
            let (state, redirect) = try await pair.consent("acme", realmID: pair.sim.defaultRealmID)
            await #expect {
                _ = try await pair.control.call(OAuthCompleteCall.self, .init(state: state, code: redirect["code"] ?? "", realmId: realm))
            } throws: { error in
                guard let rpc = (error as? ControlClientError)?.rpcError else { return false }
                return rpc.reason == "invalid_params" && rpc.data["field"] == "realmId"
            }
        }
    }
}
