import AsyncHTTPClient
import Foundation
import HTTPServerKit
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import QBSyncCore
import QBSyncStore
import QBSyncStorePostgres
import QBTestSupport
import Synchronization
import Testing
@testable import QBSyncDaemon

/// The refresher's refresh under the store's row lock (issue 18, item 2): Intuit asked inside the
/// lock, its pair committed in the same transaction on PostgreSQL, nothing written when Intuit
/// refuses, and two "instances" refreshing one org at once spending its refresh token once. Each
/// test runs on SQLite, then on a fresh PostgreSQL schema when `QBSYNCD_TEST_DATABASE_URL` is set.
@Suite(.serialized, .timeLimit(.minutes(2))) struct TokenRefreshLockTests {
    /// Intuit's token endpoint as a script: the refresh token it last issued is the only one it
    /// accepts (a spent one gets `invalid_grant`, as Intuit's rotation does); answers can be held
    /// until released, and failures queued.
    final class TokenEndpoint: Sendable {
        struct State {
            var current = "rt-0"
            var issued = 0
            var requests = 0
            /// Refresh tokens presented after they were spent (or never issued).
            var stale = 0
            var failures: [Int] = []
            var held = false
            var waiting: [CheckedContinuation<Void, Never>] = []
        }

        let state = Mutex(State())
        private let server = Mutex<HTTPServer?>(nil)

        static func start() async throws -> TokenEndpoint {
            let endpoint = TokenEndpoint()
            let server = try await HTTPServer.bind(
                HTTPServerConfiguration(target: .address(host: "127.0.0.1", port: 0)), responder: AsyncHTTPResponder { await endpoint.answer($0) },
                logger: Logger(label: "test")
            )
            endpoint.server.withLock { $0 = server }
            return endpoint
        }

        var url: String { "http://127.0.0.1:\(server.withLock { $0?.port ?? 0 })/oauth2/v1/tokens/bearer" }
        var snapshot: State { state.withLock { $0 } }

        func stop() { server.withLock { $0 }?.stop() }
        func hold() { state.withLock { $0.held = true } }
        func release() {
            let waiting = state.withLock { state in
                state.held = false
                defer { state.waiting = [] }
                return state.waiting
            }
            for continuation in waiting { continuation.resume() }
        }
        func fail(_ statuses: [Int]) { state.withLock { $0.failures = statuses } }
        /// The grant ends at Intuit (revoked): every refresh token it issued is refused from now on.
        func revoke() { state.withLock { $0.current = "revoked" } }

        func answer(_ request: HTTPRequest) async -> HTTPResponse {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let held = state.withLock { state in
                    state.requests += 1
                    if state.held { state.waiting.append(continuation) }
                    return state.held
                }
                if !held { continuation.resume() }
            }
            let form = String(buffer: request.body).split(separator: "&").reduce(into: [String: String]()) { fields, pair in
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { fields[parts[0]] = parts[1].removingPercentEncoding ?? parts[1] }
            }
            let reply: (Int, String) = state.withLock { state in
                if !state.failures.isEmpty { return (state.failures.removeFirst(), #"{"error":"invalid_request"}"#) }
                guard form["refresh_token"] == state.current else {
                    state.stale += 1
                    return (400, #"{"error":"invalid_grant"}"#)
                }
                state.issued += 1
                state.current = "rt-\(state.issued)"
                return (
                    200,
                    #"{"access_token":"at-\#(state.issued)","refresh_token":"\#(state.current)","token_type":"bearer","expires_in":3600,"x_refresh_token_expires_in":8640000}"#
                )
            }
            return .text(HTTPResponseStatus(statusCode: reply.0), reply.1, contentType: "application/json")
        }
    }

    static let org = OrgID("acme")!
    static let logger = Logger(label: "test")

    /// One backend's store and the settings pointing the refresher at `endpoint`.
    struct Harness {
        var backend: String
        var store: any StoreBackend
        var settings: Settings
        var vault: TokenVault
        var connections: any ConnectionStore { store.connections(vault: vault) }

        /// A refresher as one daemon instance holds it (its own single flight).
        func refresher() async throws -> TokenRefresher {
            let state = DaemonState(settings: settings, orgCounts: OrgStatusCounts())
            let hub = NotificationHub(logger: logger)
            let governor = try await ReadGovernor.load(repository: store.readQuota, state: state, hub: hub, logger: logger)
            let settings = settings
            let (_, changes) = AsyncStream.makeStream(of: TokenRefresher.ScheduleChange.self)
            return TokenRefresher(
                repository: connections, orgs: store.orgs, clients: IntuitClients(settings: { settings }, http: HTTPClient.shared, governor: governor),
                notifier: OrgStatusNotifier(orgs: store.orgs, hub: hub, state: state), metrics: nil, scheduleChanges: changes, logger: logger
            )
        }

        /// Connects the org with the refresh token `rt-0`; returns the stored generation.
        func connect() async throws -> Int64 {
            try await store.orgs.ensure(org, now: Date())
            let now = Date()
            let tokens = TokenSet(
                accessToken: Secret("at-0"), refreshToken: Secret("rt-0"), accessTokenExpiresAt: now.addingTimeInterval(3600),
                refreshTokenExpiresAt: now.addingTimeInterval(8_640_000), refreshTokenHardExpiresAt: nil
            )
            try await connections.connect(org: org, realmID: "9130000000000001", environment: "sandbox", tokens: tokens, now: now)
            return try #require(try await connections.connection(org)).generation
        }
    }

    /// Runs `body` on SQLite, then on PostgreSQL when a test database is configured.
    static func eachBackend(_ endpoint: TokenEndpoint, _ body: (Harness) async throws -> Void) async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        var environment = [
            "QBSYNCD_CONFIG": try directory.write("empty.conf", ""), "QBSYNCD_STATE_DIR": directory.path, SettingKey.clientID: "client",
            SettingKey.clientSecret: "secret", SettingKey.redirectURI: "https://example.test/callback", SettingKey.verifierToken: "verifier", SettingKey.tokenURL: endpoint.url,
        ]
        var runs = [environment]
        if let url = TestBackend.databaseURL {
            let schema = "ut_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
            environment["QBSYNCD_DATABASE_URL"] = url + (url.contains("?") ? "&" : "?") + "schema=\(schema)&pool_max_conns=4"
            runs.append(environment)
        }
        for environment in runs {
            let settings = try await Settings.load(environment: environment).get()
            try await StoreOpening.withStore(settings, logger: logger) { store in
                endpoint.state.withLock { $0 = TokenEndpoint.State() }
                try await body(Harness(backend: store is PostgresStore ? "postgres" : "sqlite", store: store, settings: settings, vault: TokenVault(key: .generate())))
            }
        }
    }

    @Test func aRefreshSpendsTheStoredRefreshTokenAndCommitsIntuitsPair() async throws {
        let endpoint = try await TokenEndpoint.start()
        defer { endpoint.stop() }
        try await Self.eachBackend(endpoint) { harness in
            let before = try await harness.connect()
            let refreshed = try await harness.refresher().refresh(org: Self.org, reason: "requested")

            #expect(refreshed.tokens.refreshToken.value == "rt-1", "\(harness.backend)")
            #expect(refreshed.generation == before + 1, "\(harness.backend)")
            let stored = try #require(try await harness.connections.connection(Self.org))
            #expect(stored.tokens.refreshToken.value == "rt-1" && stored.tokens.accessToken.value == "at-1", "\(harness.backend)")
            #expect(stored.generation == before + 1 && stored.status == .connected && stored.refreshFailures == 0, "\(harness.backend)")
            #expect(endpoint.snapshot.requests == 1 && endpoint.snapshot.stale == 0, "\(harness.backend)")
        }
    }

    @Test func aRefusalInsideTheLockWritesNoTokensAndIsRecordedAfter() async throws {
        let endpoint = try await TokenEndpoint.start()
        defer { endpoint.stop() }
        try await Self.eachBackend(endpoint) { harness in
            let before = try await harness.connect()
            let refresher = try await harness.refresher()

            // When Intuit refuses the refresh (not invalid_grant), the tokens stay, the failure is recorded
            endpoint.fail([400])
            await #expect(throws: CompanyCallError.self, "\(harness.backend)") { try await refresher.refresh(org: Self.org, reason: "requested") }
            var stored = try #require(try await harness.connections.connection(Self.org))
            #expect(stored.generation == before && stored.tokens.refreshToken.value == "rt-0", "\(harness.backend)")
            #expect(stored.refreshFailures == 1 && stored.nextRetryAt != nil && stored.status == .connected, "\(harness.backend)")

            // And the next refresh presents the same refresh token, which Intuit accepts
            #expect(try await refresher.refresh(org: Self.org, reason: "requested").tokens.refreshToken.value == "rt-1", "\(harness.backend)")
            stored = try #require(try await harness.connections.connection(Self.org))
            #expect(stored.generation == before + 1 && stored.refreshFailures == 0, "\(harness.backend)")

            // When Intuit refuses the grant itself, the org must connect again
            endpoint.revoke()
            await #expect(throws: QBSyncError.needsReauthorization(Self.org), "\(harness.backend)") { try await refresher.refresh(org: Self.org, reason: "requested") }
            stored = try #require(try await harness.connections.connection(Self.org))
            #expect(stored.status == .needsReauthorization && stored.generation == before + 1, "\(harness.backend)")
        }
    }

    /// Two refreshers with their own single flight, as two instances hold them, on one PostgreSQL
    /// schema: the second waits for the first's row lock, then finds the generation moved and uses
    /// the pair the first committed; Intuit is asked once and never sees a spent refresh token.
    @Test(.enabled(if: TestBackend.databaseURL != nil, "needs PostgreSQL (QBSYNCD_TEST_DATABASE_URL)"))
    func twoInstancesRefreshingOneOrgAtOnceSpendItsRefreshTokenOnce() async throws {
        let endpoint = try await TokenEndpoint.start()
        defer { endpoint.stop() }
        try await Self.eachBackend(endpoint) { harness in
            guard let postgres = harness.store as? PostgresStore else { return }
            let before = try await harness.connect()
            let first = try await harness.refresher()
            let second = try await harness.refresher()

            // When the first instance's refresh is at Intuit, and the second's starts
            endpoint.hold()
            let a = Task { try await first.refresh(org: Self.org, reason: "requested") }
            _ = try await eventually(timeout: .seconds(10), "the first refresh reached Intuit") { endpoint.snapshot.requests == 1 ? true : nil }
            let b = Task { try await second.refresh(org: Self.org, reason: "401") }
            _ = try await eventually(timeout: .seconds(10), "the second refresh waits for the row's lock") { () -> Bool? in
                let rows = try await postgres.client.query(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'", logger: Self.logger
                )
                for try await waiting in rows.decode(Int64.self) where waiting > 0 { return true }
                return nil
            }
            endpoint.release()
            let (one, two) = (try await a.value, try await b.value)

            // Then Intuit was asked once, and both use the pair it issued
            #expect(endpoint.snapshot.requests == 1 && endpoint.snapshot.stale == 0)
            #expect(one.tokens.refreshToken.value == "rt-1" && two.tokens.refreshToken.value == "rt-1")
            #expect(one.generation == before + 1 && two.generation == before + 1)
            let stored = try #require(try await harness.connections.connection(Self.org))
            #expect(stored.status == .connected && stored.tokens.refreshToken.value == "rt-1")
        }
    }
}
