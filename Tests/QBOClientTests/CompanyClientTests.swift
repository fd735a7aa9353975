import AsyncHTTPClient
import Foundation
import Logging
import QBSyncCore
import Testing
@testable import QBOClient

/// The company client against a real HTTP server in the test process: what a caller notices of
/// Intuit's outages, throttling and refused tokens.
@Suite(.timeLimit(.minutes(3))) struct CompanyClientTests {
    static let company = #"{"CompanyInfo":{"CompanyName":"Maple Court Ltd"},"time":"2026-12-01T10:00:00.000-08:00"}"#

    /// A client of `intuit` with fake tokens, a test clock and a counting meter.
    struct Harness {
        let intuit: ScriptedIntuit
        let tokens = FakeTokens()
        let clock = TestClock()
        let meter: CountingMeter
        let limiter: RealmLimiter
        let client: CompanyClient

        init(_ answers: [ScriptedIntuit.Answer], policy: RetryPolicy = .accounting, timeout: Duration = .seconds(5), meter: CountingMeter = CountingMeter()) async throws {
            intuit = try await ScriptedIntuit.start(answers)
            self.meter = meter
            var endpoints = QBOEndpoints(
                clientID: "client", clientSecret: Secret("secret"), redirectURI: "http://127.0.0.1/callback", authorizeURL: intuit.baseURL + "/authorize",
                tokenURL: intuit.baseURL + "/token", revokeURL: intuit.baseURL + "/revoke", apiBaseURL: intuit.baseURL
            )
            endpoints.timeout = .nanoseconds(timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
            limiter = RealmLimiter(clock: clock.callClock)
            client = CompanyClient(
                accounting: AccountingClient(http: HTTPClient.shared, endpoints: endpoints, meter: meter), tokens: tokens, limiter: limiter, policy: policy,
                clock: clock.callClock, logger: Logger(label: "test")
            )
        }

        /// The error a call ends with (nil: it succeeded).
        func failure() async -> QBOClientError? {
            do {
                _ = try await client.companyInfo()
                return nil
            } catch {
                return error as? QBOClientError
            }
        }
    }

    @Test func a503IsRetriedAndTheCallSucceeds() async throws {
        let h = try await Harness([.status(503, body: "<html>busy</html>"), .status(200, body: Self.company)])
        defer { h.intuit.shutdown() }
        let (realm, info) = try await h.client.companyInfo()
        #expect(info.companyName == "Maple Court Ltd" && realm == h.tokens.realmID)
        #expect(h.intuit.requests.count == 2)
        #expect(h.clock.slept == [.milliseconds(250)], "one jittered back-off")
        #expect(h.meter.reads == 2, "each try is a metered read")
    }

    @Test func anOutageThatLastsEndsAsUnavailableAfterThreeTries() async throws {
        let h = try await Harness([.status(502), .status(503), .status(500), .status(200, body: Self.company)])
        defer { h.intuit.shutdown() }
        #expect(await h.failure() == .unavailable("QuickBooks answered 500"))
        #expect(h.intuit.requests.count == 3)
        #expect(h.clock.slept == [.milliseconds(250), .milliseconds(500)])
    }

    @Test func aDroppedConnectionIsRetried() async throws {
        let h = try await Harness([.drop, .status(200, body: Self.company)])
        defer { h.intuit.shutdown() }
        #expect(try await h.client.companyInfo().info.companyName == "Maple Court Ltd")
        #expect(h.intuit.requests.count == 2)
    }

    @Test func aTimeoutIsRetried() async throws {
        // The first try stalls until its timeout; 2 s leaves the second try room on a loaded machine
        // (200 ms failed it under the whole suite in CI).
        let h = try await Harness([.stall, .status(200, body: Self.company)], timeout: .seconds(2))
        defer { h.intuit.shutdown() }
        #expect(try await h.client.companyInfo().info.companyName == "Maple Court Ltd")
        #expect(h.intuit.requests.count == 2)
    }

    @Test func aFaultIsNotRetried() async throws {
        let fault = #"{"Fault":{"Error":[{"Message":"Object Not Found","Detail":"Object Not Found : Something you're trying to use has been made inactive.","code":"610"}],"type":"ValidationFault"}}"#
        let h = try await Harness([.status(400, body: fault), .status(200, body: Self.company)])
        defer { h.intuit.shutdown() }
        guard case .rejected(let refusal) = await h.failure() else { Issue.record("not a refusal"); return }
        #expect(refusal.code == "610")
        #expect(h.intuit.requests.count == 1)
    }

    @Test func a429BlocksTheCompanyForItsWaitWithoutSendingMore() async throws {
        let h = try await Harness([.status(429, body: "Too Many Requests", headers: ["Retry-After": "7"]), .status(200, body: Self.company)])
        defer { h.intuit.shutdown() }
        #expect(await h.failure() == .throttled(retryAfterSeconds: 7), "the daemon's policy answers a 429 at once")
        // Meanwhile every call is refused at once, and Intuit hears nothing more.
        guard case .overBudget(let wait) = await h.failure() else { Issue.record("not refused by the budget"); return }
        #expect((7...8).contains(wait))
        #expect(h.intuit.requests.count == 1)
        // The daemon's own refusal does not extend the block: once the wait has passed, calls go out.
        h.clock.advance(.seconds(8))
        #expect(try await h.client.companyInfo().info.companyName == "Maple Court Ltd")
        #expect(h.intuit.requests.count == 2)
    }

    @Test func a429WithinThePolicysCapIsWaitedOutAndRetried() async throws {
        var policy = RetryPolicy.accounting
        policy.maximumThrottleWait = .seconds(2)
        let h = try await Harness([.status(429, headers: ["Retry-After": "1"]), .status(200, body: Self.company)], policy: policy)
        defer { h.intuit.shutdown() }
        #expect(try await h.client.companyInfo().info.companyName == "Maple Court Ltd")
        #expect(h.clock.slept == [.seconds(1)], "Intuit's wait, exactly")
        #expect(h.intuit.requests.count == 2)
    }

    @Test func a401RefreshesOnceAndTheCallSucceedsWithTheNewToken() async throws {
        let h = try await Harness([.status(401, body: #"{"fault":{"error":[{"message":"message=AuthenticationFailed; errorCode=003200; statusCode=401","detail":"Token expired","code":"3200"}],"type":"AUTHENTICATION"}}"#), .status(200, body: Self.company)])
        defer { h.intuit.shutdown() }
        #expect(try await h.client.companyInfo().info.companyName == "Maple Court Ltd")
        #expect(h.tokens.refreshes == 1)
        #expect(h.intuit.requests.map(\.authorization) == ["Bearer t1", "Bearer t2"])
        #expect(h.tokens.refused.isEmpty)
    }

    @Test func a401ThatTheFreshTokenMeetsAgainIsARefusalNoRefreshCures() async throws {
        let h = try await Harness([.status(401), .status(401), .status(200, body: Self.company)])
        defer { h.intuit.shutdown() }
        guard case .forbidden(let fault) = await h.failure() else { Issue.record("not a refusal"); return }
        #expect(fault.code == "3200")
        #expect(h.tokens.refreshes == 1, "one refresh, not a loop")
        #expect(h.intuit.requests.count == 2)
        #expect(h.tokens.refused.map(\.code) == ["3200"], "the provider hears of it once")
    }

    @Test func a403DisconnectedAppIsReportedAndNotRetried() async throws {
        let body = #"{"Fault":{"Error":[{"Message":"message=AuthorizationFailure; errorCode=003100; statusCode=403","Detail":"","code":"3100"}],"type":"AUTHENTICATION"}}"#
        let h = try await Harness([.status(403, body: body), .status(200, body: Self.company)])
        defer { h.intuit.shutdown() }
        guard case .forbidden = await h.failure() else { Issue.record("not a refusal"); return }
        #expect(h.tokens.refreshes == 0 && h.tokens.refused.map(\.code) == ["3100"])
        #expect(h.intuit.requests.count == 1)
    }

    @Test func aReadTheMeterRefusesIsNeverSent() async throws {
        let h = try await Harness([.status(200, body: Self.company)], meter: CountingMeter(refuse: true))
        defer { h.intuit.shutdown() }
        #expect(await h.failure() == .readQuotaExhausted(CountingMeter.refusal))
        #expect(h.intuit.requests.isEmpty)
    }

    @Test func intuitsMonthlyRefusalIsToldToTheMeter() async throws {
        let h = try await Harness([.status(429, body: #"{"fault":{"error":[{"message":"CorePlus monthly limit exceeded"}]}}"#)])
        defer { h.intuit.shutdown() }
        #expect(await h.failure() == .readQuotaExhausted(CountingMeter.refusal), "with the meter's counts")
        #expect(h.meter.intuitRefusals == 1)
        #expect(h.intuit.requests.count == 1, "not retried, and the company is not blocked")
    }
}
