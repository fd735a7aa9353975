import Foundation
import QBSyncCore
import QBTestSupport
import Testing

/// Intuit's OAuth 2.0 server as qbo-sim serves it (reference §1), over real HTTP.
@Suite(.timeLimit(.minutes(2))) struct OAuthContractTests {
    @Test func discoveryPointsAtTheSimulatorInEverySpelling() async throws {
        let sim = try SimulatorProcess()
        defer { sim.cleanUp() }
        try await sim.start()
        let client = SimClient(base: sim.baseURL)
        for path in [
            "/.well-known/openid_sandbox_configuration/", "/.well-known/openid_sandbox_configuration", "/.well-known/openid-sandbox-configuration",
            "/.well-known/openid_configuration/",
        ] {
            let reply = try await client.get(path)
            #expect(reply.status == 200, "\(path)")
            #expect(reply.json["token_endpoint"] == .string(sim.baseURL + "/oauth2/v1/tokens/bearer"))
            #expect(reply.json["authorization_endpoint"] == .string(sim.baseURL + "/connect/oauth2"))
            #expect(reply.json["revocation_endpoint"] == .string(sim.baseURL + "/v2/oauth2/tokens/revoke"))
            #expect(reply.json["issuer"] == "https://oauth.platform.intuit.com/op/v1")
        }
    }

    @Test func authorizeValidatesTheRequestAsIntuitDoes() async throws {
        let sim = try SimulatorProcess()
        defer { sim.cleanUp() }
        try await sim.start()
        let client = SimClient(base: sim.baseURL)

        let good = try await client.authorize()
        #expect(good.status == 302)
        let query = SimClient.redirectQuery(good)
        #expect(good.headers.first(name: "Location")?.hasPrefix(SimulatorProcess.redirectURI + "?") == true)
        #expect(query["state"] == "state-123")
        #expect(query["realmId"] == sim.defaultRealmID)
        #expect((query["code"]?.count ?? 0) > 20)
        let tid = try #require(good.headers.first(name: "intuit_tid"))
        #expect(tid.wholeMatch(of: /1-[0-9a-f]{8}-[0-9a-f]{24}/) != nil)

        #expect(try await client.authorize(overrides: ["client_id": "someone-else"]).status == 400, "unknown client: an error page")
        #expect(try await client.authorize(overrides: ["redirect_uri": "https://evil.example.com/cb"]).status == 400, "never redirect elsewhere")
        let badType = try await client.authorize(overrides: ["response_type": "token"])
        #expect(SimClient.redirectQuery(badType)["error"] == "unsupported_response_type")
        let badScope = try await client.authorize(overrides: ["scope": "openid email"])
        #expect(SimClient.redirectQuery(badScope)["error"] == "invalid_scope")
        #expect(SimClient.redirectQuery(badScope)["state"] == "state-123")
        let plusScope = try await client.authorize(overrides: ["scope": "com.intuit.quickbooks.accounting+openid"])
        #expect(SimClient.redirectQuery(plusScope)["code"] != nil, "space or + separated scopes")
    }

    @Test func theCodeExchangeAnswersIntuitsFieldsAndCodesAreSingleUse() async throws {
        let sim = try SimulatorProcess()
        defer { sim.cleanUp() }
        try await sim.start()
        let client = SimClient(base: sim.baseURL)
        let code = SimClient.redirectQuery(try await client.authorize())["code"]!
        let exchange = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", SimulatorProcess.redirectURI)]

        let wrongSecret = try await client.form("/oauth2/v1/tokens/bearer", exchange, basic: (SimulatorProcess.clientID, "nope"))
        #expect(wrongSecret.status == 401)
        #expect(wrongSecret.json == ["error": "invalid_client"])

        let reply = try await client.form("/oauth2/v1/tokens/bearer", exchange)
        #expect(reply.status == 200)
        #expect(reply.headers.first(name: "Cache-Control") == "no-cache, no-store")
        #expect(reply.headers.first(name: "Content-Type")?.hasPrefix("application/json") == true)
        let tokens = reply.json
        #expect(tokens["token_type"] == "bearer")
        #expect(tokens["expires_in"] == 3600)
        #expect(tokens["x_refresh_token_expires_in"] == 8_640_000)
        #expect(tokens["x_refresh_token_hard_expires_in"] == nil, "only with the opt-in header")
        #expect(tokens["id_token"] == nil, "no openid scope, no id_token")
        let access = try #require(tokens["access_token"]?.stringValue)
        #expect(try await client.get("/v3/company/\(sim.defaultRealmID)/companyinfo/\(sim.defaultRealmID)", token: access).status == 200)

        // Redeeming the code again is treated as fraud: invalid_grant, and the first grant dies.
        let again = try await client.form("/oauth2/v1/tokens/bearer", exchange)
        #expect(again.status == 400)
        #expect(again.json == ["error": "invalid_grant"])
        #expect(try await client.get("/v3/company/\(sim.defaultRealmID)/companyinfo/\(sim.defaultRealmID)", token: access).status == 403)

        let otherCode = SimClient.redirectQuery(try await client.authorize())["code"]!
        let wrongRedirect = try await client.form(
            "/oauth2/v1/tokens/bearer", [("grant_type", "authorization_code"), ("code", otherCode), ("redirect_uri", "https://app.example.com/other")]
        )
        #expect(wrongRedirect.json == ["error": "invalid_grant"])

        let lateCode = SimClient.redirectQuery(try await client.authorize())["code"]!
        _ = try await client.post("/sim/clock", json: ["advanceSeconds": 301])
        let late = try await client.form("/oauth2/v1/tokens/bearer", [("grant_type", "authorization_code"), ("code", lateCode), ("redirect_uri", SimulatorProcess.redirectURI)])
        #expect(late.json == ["error": "invalid_grant"], "codes live five minutes")

        let postAuth = try await client.form(
            "/oauth2/v1/tokens/bearer",
            [("grant_type", "authorization_code"), ("code", SimClient.redirectQuery(try await client.authorize())["code"]!), ("redirect_uri", SimulatorProcess.redirectURI),
             ("client_id", SimulatorProcess.clientID), ("client_secret", SimulatorProcess.clientSecret)],
            basic: nil
        )
        #expect(postAuth.status == 200, "client_secret_post is accepted too")
    }

    @Test func refreshTokensRotateOnScheduleAndSupersededOnesAreRefused() async throws {
        let f = try await SimFixture.start()
        defer { f.cleanUp() }
        let (sim, client, first) = (f.sim, f.client, f.grant)
        func refresh(_ token: String, headers: [(String, String)] = []) async throws -> SimClient.Reply {
            try await client.form("/oauth2/v1/tokens/bearer", [("grant_type", "refresh_token"), ("refresh_token", token)], extraHeaders: headers)
        }
        // Within a day the same refresh token comes back with a new access token.
        let soon = try await refresh(first.refresh)
        #expect(soon.json["refresh_token"] == .string(first.refresh))
        #expect(soon.json["access_token"] != .string(first.access))

        _ = try await client.post("/sim/clock", json: ["advanceSeconds": 90_000])
        let rotated = try await refresh(first.refresh, headers: [("x-include-refresh-token-hard-expires-in", "true")])
        let newRefresh = try #require(rotated.json["refresh_token"]?.stringValue)
        #expect(newRefresh != first.refresh)
        #expect(rotated.json["x_refresh_token_expires_in"] == 8_640_000)
        #expect((rotated.json["x_refresh_token_hard_expires_in"]?.intValue ?? 0) > 157_000_000)

        let superseded = try await refresh(first.refresh)
        #expect(superseded.status == 400)
        #expect(superseded.json == ["error": "invalid_grant"])
        #expect(try await refresh(newRefresh).status == 200)

        // An access token expires after its TTL: the API answers the gateway's 401.
        let access = try #require(try await refresh(newRefresh).json["access_token"]?.stringValue)
        _ = try await client.post("/sim/clock", json: ["advanceSeconds": 3601])
        let expired = try await client.get("/v3/company/\(sim.defaultRealmID)/companyinfo/\(sim.defaultRealmID)", token: access)
        #expect(expired.status == 401)
        #expect(expired.json["fault"]?["error"]?.arrayValue?.first?["code"] == "3200")

        // An idle refresh token expires after its validity.
        _ = try await client.post("/sim/clock", json: ["advanceSeconds": 8_640_001])
        #expect(try await refresh(newRefresh).json == ["error": "invalid_grant"])
    }

    @Test func revokeEndsTheGrant() async throws {
        let f = try await SimFixture.start()
        defer { f.cleanUp() }
        let (client, grant) = (f.client, f.grant)
        let basic = "Basic " + Data("\(SimulatorProcess.clientID):\(SimulatorProcess.clientSecret)".utf8).base64EncodedString()
        let bearer = try await client.send(.POST, "/v2/oauth2/tokens/revoke", headers: [("Authorization", "Bearer \(grant.access)"), ("Content-Type", "application/json")], body: Data(#"{"token":"\#(grant.refresh)"}"#.utf8))
        #expect(bearer.status == 401)
        let revoked = try await client.send(.POST, "/v2/oauth2/tokens/revoke", headers: [("Authorization", basic), ("Content-Type", "application/json")], body: Data(#"{"token":"\#(grant.refresh)"}"#.utf8))
        #expect(revoked.status == 200)
        #expect(revoked.body.isEmpty)
        let again = try await client.form("/v2/oauth2/tokens/revoke", [("token", grant.refresh)])
        #expect(again.status == 400)
        #expect(again.body.isEmpty)
        #expect(try await client.form("/oauth2/v1/tokens/bearer", [("grant_type", "refresh_token"), ("refresh_token", grant.refresh)]).json == ["error": "invalid_grant"])
        #expect(try await client.get("/v3/company/\(grant.realmID)/companyinfo/\(grant.realmID)", token: grant.access).status == 403)

        let other = try await client.connect()
        #expect(try await client.post("/sim/tokens/revoke-all", json: ["realmId": .string(other.realmID)]).json["revoked"] == 1)
        #expect(try await client.form("/oauth2/v1/tokens/bearer", [("grant_type", "refresh_token"), ("refresh_token", other.refresh)]).json == ["error": "invalid_grant"])
    }

    @Test func injectedInvalidGrantRefusesTheNextRefresh() async throws {
        let f = try await SimFixture.start()
        defer { f.cleanUp() }
        let (client, grant) = (f.client, f.grant)
        _ = try await client.post("/sim/faults", json: ["fault": "invalid_grant", "count": 1])
        #expect(try await client.form("/oauth2/v1/tokens/bearer", [("grant_type", "refresh_token"), ("refresh_token", grant.refresh)]).json == ["error": "invalid_grant"])
        #expect(try await client.form("/oauth2/v1/tokens/bearer", [("grant_type", "refresh_token"), ("refresh_token", grant.refresh)]).status == 200)
    }

    /// Intuit's own Python client (PyPI intuit-oauth) against the simulator: discovery, code
    /// exchange, refresh and revoke. `scripts/test.sh` installs it and sets QBSYNC_PYDEPS.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["QBSYNC_PYDEPS"] != nil))
    func intuitsPythonClientWorksUnchanged() async throws {
        let sim = try SimulatorProcess()
        defer { sim.cleanUp() }
        try await sim.start()
        let script = """
            import sys, urllib.request, urllib.parse
            from intuitlib.client import AuthClient
            from intuitlib.enums import Scopes
            base = sys.argv[1]
            client = AuthClient(sys.argv[2], sys.argv[3], sys.argv[4], base + "/.well-known/openid_sandbox_configuration/")
            url = client.get_authorization_url([Scopes.ACCOUNTING])
            class NoRedirect(urllib.request.HTTPRedirectHandler):
                def redirect_request(self, *args, **kwargs): return None
            try:
                urllib.request.build_opener(NoRedirect).open(url)
                raise SystemExit("expected a redirect")
            except urllib.error.HTTPError as redirect:
                query = urllib.parse.parse_qs(urllib.parse.urlparse(redirect.headers["Location"]).query)
            assert query["state"][0] == client.state_token, "state echoed"
            client.get_bearer_token(query["code"][0], realm_id=query["realmId"][0])
            assert client.expires_in == 3600 and client.x_refresh_token_expires_in == 8640000 and client.refresh_token, vars(client)
            first = client.access_token
            client.refresh()
            assert client.access_token != first
            client.revoke()
            print("ok", client.realm_id)
            """
        let result = try await runCommand(
            "/usr/bin/env", ["python3", "-c", script, sim.baseURL, SimulatorProcess.clientID, SimulatorProcess.clientSecret, SimulatorProcess.redirectURI],
            environment: ["PYTHONPATH": ProcessInfo.processInfo.environment["QBSYNC_PYDEPS"]!, "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
        )
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.hasPrefix("ok \(sim.defaultRealmID)"))
    }

    @Test func stateSurvivesARestart() async throws {
        let keep = try TempDirectory(prefix: "qbsim-state")
        defer { keep.remove() }
        let statePath = keep.file("sim.json")
        let first = try SimulatorProcess()
        defer { first.cleanUp() }
        try await first.start(statePath: statePath)
        var client = SimClient(base: first.baseURL)
        let grant = try await client.connect()
        let created = try await client.post("/v3/company/\(grant.realmID)/customer", json: ["DisplayName": "Persistent Co"], token: grant.access).json["Customer"]!
        #expect(try await first.stop() == 0)
        #expect(FileManager.default.fileExists(atPath: statePath))

        let second = try SimulatorProcess()
        defer { second.cleanUp() }
        try await second.start(statePath: statePath)
        #expect(second.defaultRealmID == first.defaultRealmID)
        client = SimClient(base: second.baseURL)
        let read = try await client.get("/v3/company/\(grant.realmID)/customer/\(created["Id"]!.stringValue!)", token: grant.access)
        #expect(read.status == 200, "the access token and the customer survived")
        #expect(read.json["Customer"]?["DisplayName"] == "Persistent Co")
        #expect(try await client.form("/oauth2/v1/tokens/bearer", [("grant_type", "refresh_token"), ("refresh_token", grant.refresh)]).status == 200)
    }
}
