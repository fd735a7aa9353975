import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import QBOClient
import QBSyncCore
import QBSyncStore
import Synchronization

/// Connects organisations to their QuickBooks companies and keeps their tokens fresh.
///
/// One refresh per org at a time (single flight): concurrent callers share it, and API calls for
/// that org wait for it. A refreshed pair is committed to the store before anything uses it, and
/// only over the token generation it started from.
final class ConnectionManager: Sendable {
    /// How long an OAuth state lives.
    static let stateLifetime: TimeInterval = 600
    /// Transport failures of one refresh are retried this many times at once (the answer may have
    /// been lost after Intuit processed it: the same refresh token works again within its window).
    static let immediateRetries = 2
    /// An API call refreshes first when the access token has less than this left.
    static let onDemandWindow: TimeInterval = 10

    let repository: ConnectionRepository
    let orgs: OrgRepository
    /// The companies' service items (for `org.test`).
    let items: MappingRepository
    let state: DaemonState
    let hub: NotificationHub
    let http: HTTPClient
    let logger: Logger
    /// The app-wide read budget: every metered read is counted (or refused) here first.
    let governor: ReadGovernor
    /// Every API call of every caller goes through this, per company.
    let limiter = RealmLimiter()
    private let metricsBox = Mutex<DaemonMetrics?>(nil)
    /// Set once at start-up; counts API calls and refreshes by outcome.
    var metrics: DaemonMetrics? {
        get { metricsBox.withLock { $0 } }
        set { metricsBox.withLock { $0 = newValue } }
    }
    private let inFlight = Mutex<[OrgID: Task<Connection, any Error>]>([:])
    /// Refreshed pairs the store could not record yet (F2).
    let uncommitted = UncommittedTokens()
    /// Told whenever an org's refresh schedule changes.
    let scheduleChanges: AsyncStream<ScheduleChange>.Continuation

    /// An org's next refresh moved, or it left the schedule.
    enum ScheduleChange: Sendable {
        /// A new access token that expires in this many seconds (the scheduler subtracts its margin).
        case tokenExpires(OrgID, inSeconds: TimeInterval)
        /// A failed refresh: try again in this many seconds.
        case retry(OrgID, inSeconds: TimeInterval)
        case removed(OrgID)
    }

    init(
        repository: ConnectionRepository, orgs: OrgRepository, state: DaemonState, hub: NotificationHub, http: HTTPClient, governor: ReadGovernor,
        scheduleChanges: AsyncStream<ScheduleChange>.Continuation, logger: Logger
    ) {
        self.governor = governor
        self.repository = repository
        items = MappingRepository(store: repository.store)
        self.orgs = orgs
        self.state = state
        self.hub = hub
        self.http = http
        self.scheduleChanges = scheduleChanges
        self.logger = logger
    }

    private func clients() throws(QBSyncError) -> (OAuthClient, AccountingClient) {
        let settings = state.settings
        guard settings.integrationEnabled, let endpoints = QBOEndpoints(settings.quickBooks) else {
            throw .integrationDisabled(missing: settings.integrationMissing)
        }
        // The reads made here (CompanyInfo for a connect or `org.test`) are an operator's.
        return (OAuthClient(http: http, endpoints: endpoints), AccountingClient(http: http, endpoints: endpoints, meter: governor.meter(.operator)))
    }

    private func logger(for org: OrgID, realm: String? = nil) -> Logger {
        var logger = self.logger
        logger[metadataKey: LogKey.org] = "\(org)"
        if let realm { logger[metadataKey: LogKey.realm] = "\(realm)" }
        return logger
    }

    // MARK: Connect

    struct Begun: Encodable, Sendable {
        var authorizeUrl: String
        var state: String
        var expiresAt: String
    }

    /// A consent URL with a fresh state: 256 random bits, stored hashed, bound to the org.
    func begin(org: OrgID, now: Date = Date()) async throws -> Begun {
        let (oauth, _) = try clients()
        let stateValue = Secret(Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }).base64URLEncoded)
        let expiresAt = now.addingTimeInterval(Self.stateLifetime)
        try await orgs.ensure(org, now: now)
        try await repository.insertState(stateValue, org: org, expiresAt: expiresAt, now: now)
        await refreshCounts()
        return Begun(authorizeUrl: oauth.authorizeURL(state: stateValue), state: stateValue.value, expiresAt: Timestamp.string(expiresAt))
    }

    /// Consumes the state once, exchanges the code, stores the sealed tokens, reads CompanyInfo.
    /// The same state and code again (a double callback) answers the connection without
    /// redeeming the code a second time, which Intuit would treat as fraud. A company other than
    /// the one the org's records belong to is refused before the state is used (`realm_changed`),
    /// so the same call with `fresh` can follow; `fresh` archives the old company's records. The
    /// grant this one replaces is revoked at Intuit (L12).
    func complete(state stateValue: Secret<String>, code: Secret<String>, realmID: String, fresh: Bool = false, now: Date = Date()) async throws -> OrgInfo {
        let (oauth, accounting) = try clients()
        // Intuit's company ids are ASCII digits, at most 19 of them (L6: not any Unicode numeral).
        guard (1...19).contains(realmID.utf8.count), realmID.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            throw QBSyncError.invalidParams(field: "realmId", detail: "is a QuickBooks company id: 1 to 19 ASCII digits")
        }
        if !fresh, let owner = try await repository.stateOwner(stateValue), let previous = try await repository.mappedCompany(org: owner, otherThan: realmID) {
            logger(for: owner, realm: realmID).notice("refused a connection to another QuickBooks company than the organisation's records belong to", metadata: ["previous_realm": "\(previous)"])
            throw QBSyncError.realmChanged(previousRealmID: previous, realmID: realmID)
        }
        let org: OrgID
        switch try await repository.consumeState(stateValue, code: code, now: now) {
        case .invalid: throw QBSyncError.invalidState
        case .repeated(let owner):
            guard let info = try await orgs.find(owner), info.status == .connected, info.realmID == realmID else { throw QBSyncError.invalidState }
            return info
        case .fresh(let owner): org = owner
        }
        let log = logger(for: org, realm: realmID)
        if let owner = try await repository.realmOwner(realmID), owner != org {
            log.warning("refused a QuickBooks company already connected to another organisation", metadata: ["owner": "\(owner)"])
            throw QBSyncError.realmInUse(realmID: realmID)
        }
        let response: TokenResponse
        do {
            response = try await oauth.exchange(code: code)
        } catch {
            log.warning("authorization code exchange failed", metadata: [LogKey.error: "\(QBOErrorMapping.protocolError(error, org: org).rpcError.message)"])
            if case .invalidGrant = error { throw QBSyncError.invalidState }
            throw QBOErrorMapping.protocolError(error, org: org)
        }
        // Prove that the grant is for the company the browser named before anything is stored: a
        // realmId changed on the way would otherwise bind the org to a company it cannot reach (F6).
        let companyName: String
        do {
            companyName = try await accounting.companyInfo(realmID: realmID, accessToken: response.accessToken).companyName
        } catch {
            _ = await oauth.revoke(response.refreshToken)
            switch error {
            case .forbidden, .unauthorized:
                log.warning("refused an authorization that is not for the company the redirect named")
                throw QBSyncError.invalidParams(field: "realmId", detail: "the authorization Intuit granted is not for QuickBooks company \(realmID)")
            default:
                log.warning("the new connection could not be checked against its company; nothing was stored", metadata: [LogKey.error: "\(error)"])
                throw QBOErrorMapping.protocolError(error, org: org)
            }
        }
        let previous = try await orgs.find(org)?.status ?? .disconnected
        // The grant this one replaces, revoked once the new one is stored (unreadable: nothing to revoke).
        let replaced = (try? await repository.connection(org)).map { uncommitted.newer(than: $0) ?? $0 }  // try?: a row that cannot be opened has no grant to revoke
        do {
            try await repository.connect(
                org: org, realmID: realmID, environment: state.settings.quickBooks.environment.rawValue, tokens: Self.tokens(response, now: now), fresh: fresh, now: now
            )
        } catch is ConnectionRepository.RealmInUse {
            _ = await oauth.revoke(response.refreshToken)
            throw QBSyncError.realmInUse(realmID: realmID)
        } catch let changed as ConnectionRepository.RealmChanged {
            _ = await oauth.revoke(response.refreshToken)
            throw QBSyncError.realmChanged(previousRealmID: changed.previousRealmID, realmID: realmID)
        }
        if let old = replaced, old.tokens.refreshToken.value != response.refreshToken.value {
            let revoked = await oauth.revoke(old.tokens.refreshToken)
            log.info("revoked the grant the new connection replaces", metadata: ["revoked": "\(revoked)", "previous_realm": "\(old.realmID)"])
        }
        if fresh { log.notice("organisation connected afresh: the records of its previous QuickBooks company are archived") }
        log.info("organisation connected to QuickBooks")
        scheduleChanges.yield(.tokenExpires(org, inSeconds: Double(response.expiresIn)))
        try await repository.setCompanyName(companyName, org: org)
        await statusChanged(org: org, from: previous, to: .connected, reason: "connected")
        guard let info = try await orgs.find(org) else { throw QBSyncError.notFound(what: "organisation \(org)") }
        return info
    }

    // MARK: Use

    struct TestResult: Encodable, Sendable {
        /// Added: the service item invoices name and the Income account it posts to (once looked up).
        struct InvoiceItem: Encodable, Sendable {
            var name: String
            var id: String
            var incomeAccount: String?
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(name, forKey: .name)
                try c.encode(id, forKey: .id)
                try c.encode(incomeAccount, forKey: .incomeAccount)
            }
            enum CodingKeys: String, CodingKey { case name, id, incomeAccount }
        }
        var ok: Bool
        var realmId: String
        var companyName: String
        var latencyMs: Int
        var invoiceItem: InvoiceItem?
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(ok, forKey: .ok)
            try c.encode(realmId, forKey: .realmId)
            try c.encode(companyName, forKey: .companyName)
            try c.encode(latencyMs, forKey: .latencyMs)
            try c.encode(invoiceItem, forKey: .invoiceItem)
        }
        enum CodingKeys: String, CodingKey { case ok, realmId, companyName, latencyMs, invoiceItem }
    }

    /// Reads CompanyInfo with the org's token.
    func test(org: OrgID) async throws -> TestResult {
        let (_, accounting) = try clients()
        let started = ContinuousClock.now
        let (realm, info) = try await withAccessToken(org: org) { connection async throws(QBOClientError) -> (String, CompanyInfo) in
            (connection.realmID, try await accounting.companyInfo(realmID: connection.realmID, accessToken: connection.tokens.accessToken))
        }
        let elapsed = ContinuousClock.now - started
        try? await repository.setCompanyName(info.companyName, org: org)  // try?: the test's answer stands without the cached name
        let itemName = state.settings.invoiceItemName
        let item = try await items.item(realmID: realm, name: itemName).map { TestResult.InvoiceItem(name: itemName, id: $0.id, incomeAccount: $0.incomeAccount) }
        return TestResult(
            ok: true, realmId: realm, companyName: info.companyName, latencyMs: Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000),
            invoiceItem: item
        )
    }

    /// Runs an API call with the org's access token: waits for a refresh in flight, refreshes a
    /// token about to expire, and on a 401 refreshes once and retries once. A 401 that the fresh
    /// token meets again is not cured by refreshing: the org must connect again (no retry loop).
    /// With `realm`, the call is made only while the org is still in that company (F1).
    func withAccessToken<T: Sendable>(org: OrgID, realm: String? = nil, _ call: (Connection) async throws(QBOClientError) -> T) async throws -> T {
        var connection = try await usableConnection(org)
        if let realm, connection.realmID != realm {
            throw QBSyncError.conflict(detail: "organisation \(org) moved to QuickBooks company \(connection.realmID) during this call; nothing was sent")
        }
        do {
            return try await limited(connection, call)
        } catch let error as QBOClientError {
            guard case .unauthorized = error else { throw try await failure(error, org: org, realmID: connection.realmID) }
            logger(for: org).info("QuickBooks answered 401; refreshing once and retrying")
            connection = try await refresh(org: org, reason: "401")
            do {
                return try await limited(connection, call)
            } catch let error as QBOClientError {
                if case .unauthorized = error {
                    let fault = QBOFault(code: "3200", message: "AuthenticationFailed", detail: "QuickBooks refused a freshly refreshed access token", type: "AUTHENTICATION")
                    throw try await failure(.forbidden(fault), org: org, realmID: connection.realmID)
                }
                throw try await failure(error, org: org, realmID: connection.realmID)
            }
        }
    }

    /// The call inside the company's budget. The daemon's own refusal comes out as `rate_limited`
    /// directly: only Intuit's 429 blocks the company, or a client retrying a refusal would keep
    /// the company blocked for ever (the fault campaign found this).
    private func limited<T: Sendable>(_ connection: Connection, _ call: (Connection) async throws(QBOClientError) -> T) async throws -> T {
        do {
            try await limiter.acquire(realmID: connection.realmID)
        } catch let refusal as QBSyncError {
            throw refusal
        } catch {
            throw QBOClientError.unavailable("cancelled while waiting for the request budget")
        }
        defer { limiter.release(realmID: connection.realmID) }
        do {
            let result = try await call(connection)
            metrics?.qboCall(outcome: "ok")
            return result
        } catch {
            metrics?.qboCall(outcome: Self.outcome(error))
            throw error
        }
    }

    /// A fault's words for a reason: its message, or its detail when the message is only a code.
    static func words(_ fault: QBOFault) -> String {
        let message = fault.message.hasPrefix("message=") ? String(fault.message.dropFirst(8).prefix { $0 != ";" }) : fault.message
        return fault.detail.isEmpty ? message : "\(message): \(fault.detail)"
    }

    static func outcome(_ error: QBOClientError) -> String {
        switch error {
        case .invalidGrant: return "invalid_grant"
        case .invalidClient: return "invalid_client"
        case .unauthorized: return "unauthorized"
        case .forbidden: return "forbidden"
        case .rejected: return "rejected"
        case .throttled: return "throttled"
        case .unavailable: return "unavailable"
        case .readQuotaExhausted: return "read_quota_exhausted"
        }
    }

    /// What an Intuit refusal does to the org: a refusal no refresh cures (403 3100, 401 120 or
    /// 130, a 401 after a refresh) means it must connect again, with Intuit's reason.
    private func failure(_ error: QBOClientError, org: OrgID, realmID: String) async throws -> QBSyncError {
        switch error {
        case .forbidden(let fault):
            try await needsReauthorization(org: org, reason: "QuickBooks refused the connection (\(fault.code) \(Self.words(fault))): connect again")
        case .throttled(let seconds):
            limiter.block(realmID: realmID, seconds: seconds)
        case .readQuotaExhausted(nil):
            // Intuit's own refusal for the month: the governor stops every read until it ends.
            return .readQuotaExhausted(await governor.intuitRefused())
        default:
            break
        }
        return QBOErrorMapping.protocolError(error, org: org)
    }

    private func usableConnection(_ org: OrgID) async throws -> Connection {
        if let running = inFlight.withLock({ $0[org] }) { return try await running.value }
        guard let stored = try await repository.connection(org) else { throw try await notConnected(org) }
        guard stored.status == .connected else { throw QBSyncError.needsReauthorization(org) }
        // Never an older token while a newer one is known (a refreshed pair not stored yet).
        let connection = uncommitted.newer(than: stored) ?? stored
        // The scheduler refreshes ahead of expiry; this only catches a token it could not renew in time.
        if connection.tokens.accessTokenExpiresAt.timeIntervalSinceNow < Self.onDemandWindow {
            logger(for: org).info("access token refreshed on demand: it was about to expire")
            return try await refresh(org: org, reason: "expiring")
        }
        return connection
    }

    /// The company the org's records are kept for now: its connection's, also while it waits to
    /// reconnect (its records stay readable); `org_not_connected` when it has none.
    func currentRealm(_ org: OrgID) async throws -> String {
        guard let realm = try await repository.realm(of: org) else { throw try await notConnected(org) }
        return realm
    }

    private func notConnected(_ org: OrgID) async throws -> QBSyncError {
        guard let info = try await orgs.find(org) else { return .notFound(what: "organisation \(org)") }
        return info.status == .needsReauthorization ? .needsReauthorization(org) : .orgNotConnected(org)
    }

    // MARK: Refresh

    /// Refreshes the org's tokens, sharing a refresh already in flight.
    @discardableResult
    func refresh(org: OrgID, reason: String) async throws -> Connection {
        let (task, started) = inFlight.withLock { running -> (Task<Connection, any Error>, Bool) in
            if let task = running[org] { return (task, false) }
            let task = Task { try await self.performRefresh(org: org, reason: reason) }
            running[org] = task
            return (task, true)
        }
        if started {
            defer { _ = inFlight.withLock { $0.removeValue(forKey: org) } }
            return try await task.value
        }
        return try await task.value
    }

    private func performRefresh(org: OrgID, reason: String) async throws -> Connection {
        let (oauth, _) = try clients()
        guard var connection = try await repository.connection(org) else { throw try await notConnected(org) }
        guard connection.status == .connected else { throw QBSyncError.needsReauthorization(org) }
        let log = logger(for: org, realm: connection.realmID)
        if let newer = uncommitted.newer(than: connection) {
            // A pair Intuit issued that the store could not record: record it before anything else.
            connection = try await commitKept(newer, over: connection, log: log)
            if reason != "401", connection.tokens.accessTokenExpiresAt.timeIntervalSinceNow > Double(state.settings.refreshMarginSeconds) { return connection }
        }
        do {
            try await repository.recordRefreshStarted(org: org, now: Date())
        } catch {
            // Intuit may rotate the refresh token: asking now could lose the new one for good.
            scheduleChanges.yield(.retry(org, inSeconds: 30))
            log.error("token refresh not asked: the store cannot record its answer", metadata: [LogKey.error: "\(error)"])
            throw error
        }
        var attempt = 0
        while true {
            let now = Date()
            let outcome: Result<TokenResponse, QBOClientError>
            do { outcome = .success(try await oauth.refresh(connection.tokens.refreshToken)) } catch { outcome = .failure(error) }
            switch outcome {
            case .success(let response):
                let tokens = Self.tokens(response, now: now)
                // Committed before anything uses it: a crash now cannot lose the new refresh token. A
                // store that fails now keeps it in memory, in use, until a retry commits it (F2).
                let stored: Bool
                do {
                    stored = try await repository.storeRefreshed(org: org, realmID: connection.realmID, tokens: tokens, expectedGeneration: connection.generation, now: now)
                } catch {
                    var kept = connection
                    kept.tokens = tokens
                    uncommitted.keep(kept, over: connection)
                    scheduleChanges.yield(.retry(org, inSeconds: 5))
                    metrics?.tokenRefresh(outcome: "uncommitted")
                    log.error("refreshed tokens could not be stored; kept in memory and stored again shortly", metadata: [LogKey.error: "\(error)"])
                    return kept
                }
                guard stored else {
                    log.notice("tokens changed during a refresh; keeping the newer ones")
                    guard let current = try await repository.connection(org) else { throw try await notConnected(org) }
                    return current
                }
                scheduleChanges.yield(.tokenExpires(org, inSeconds: Double(response.expiresIn)))
                metrics?.tokenRefresh(outcome: "ok")
                log.debug("access token refreshed", metadata: ["reason": "\(reason)"])
                if connection.refreshFailures > 0 { await refreshCounts() }
                guard let updated = try await repository.connection(org) else { throw try await notConnected(org) }
                return updated
            case .failure(.invalidGrant):
                metrics?.tokenRefresh(outcome: "invalid_grant")
                // Another writer may have rotated the pair meanwhile (reference §1.7): look once more.
                if let current = try await repository.connection(org), current.generation != connection.generation, current.status == .connected {
                    return current
                }
                try await needsReauthorization(org: org, reason: "Intuit refused the refresh token (invalid_grant)")
                throw QBSyncError.needsReauthorization(org)
            case .failure(.unavailable(let detail)) where attempt < Self.immediateRetries:
                attempt += 1
                log.info("refresh failed; retrying with the same refresh token", metadata: [LogKey.error: "\(detail)"])
                try await Task.sleep(for: .milliseconds(200 * attempt))
            case .failure(let error):
                let failures = connection.refreshFailures + 1
                let cooldown = Self.cooldown(failures: failures)
                let mapped = QBOErrorMapping.protocolError(error, org: org)
                metrics?.tokenRefresh(outcome: Self.outcome(error))
                try await repository.recordRefreshFailure(org: org, error: mapped.rpcError.message, nextRetryAt: now.addingTimeInterval(cooldown), now: now)
                scheduleChanges.yield(.retry(org, inSeconds: cooldown))
                log.warning("access token refresh failed", metadata: [LogKey.error: "\(mapped.rpcError.message)", "retry_in_s": "\(Int(cooldown))"])
                throw mapped
            }
        }
    }

    /// Commits a pair kept in memory; still failing, the org is tried again shortly.
    private func commitKept(_ kept: Connection, over base: Connection, log: Logger) async throws -> Connection {
        do {
            let now = Date()
            let committed = try await repository.storeRefreshed(org: kept.org, realmID: kept.realmID, tokens: kept.tokens, expectedGeneration: base.generation, now: now)
            uncommitted.forget(kept.org)
            guard committed, let current = try await repository.connection(kept.org) else { throw try await notConnected(kept.org) }
            log.notice("refreshed tokens kept in memory are stored now")
            scheduleChanges.yield(.tokenExpires(kept.org, inSeconds: kept.tokens.accessTokenExpiresAt.timeIntervalSince(now)))
            return current
        } catch {
            scheduleChanges.yield(.retry(kept.org, inSeconds: 5))
            log.warning("refreshed tokens kept in memory still cannot be stored", metadata: [LogKey.error: "\(error)"])
            throw error
        }
    }

    /// Back-off after failed refreshes: 30 s doubling to 15 min, with jitter; never a storm.
    static func cooldown(failures: Int) -> TimeInterval {
        let base = min(900, 30 * pow(2, Double(max(0, failures - 1))))
        return base * Double.random(in: 0.8...1.2)
    }

    func needsReauthorization(org: OrgID, reason: String) async throws {
        let previous = try await repository.markNeedsReauthorization(org: org, error: reason, now: Date())
        scheduleChanges.yield(.removed(org))
        logger(for: org).warning("organisation must connect to QuickBooks again", metadata: ["reason": "\(reason)"])
        if previous != .needsReauthorization { await statusChanged(org: org, from: previous ?? .connected, to: .needsReauthorization, reason: reason) }
    }

    // MARK: Disconnect

    struct Disconnected: Encodable, Sendable {
        var org: String
        var status: String
        var revoked: Bool
    }

    /// Revokes at Intuit, then forgets the tokens whatever Intuit said.
    func disconnect(org: OrgID) async throws -> Disconnected {
        let (oauth, _) = try clients()
        guard try await orgs.find(org) != nil else { throw QBSyncError.notFound(what: "organisation \(org)") }
        var revoked = false
        if let stored = try? await repository.connection(org) {  // try?: a row that cannot be opened has nothing to revoke
            revoked = await oauth.revoke((uncommitted.newer(than: stored) ?? stored).tokens.refreshToken)
        }
        uncommitted.forget(org)
        let previous = try await repository.disconnect(org: org, now: Date())
        scheduleChanges.yield(.removed(org))
        logger(for: org).info("organisation disconnected from QuickBooks", metadata: ["revoked": "\(revoked)"])
        if let previous, previous != .disconnected { await statusChanged(org: org, from: previous, to: .disconnected, reason: revoked ? "disconnected" : "disconnected; revoke at Intuit failed") }
        return Disconnected(org: org.rawValue, status: ConnectionStatus.disconnected.rawValue, revoked: revoked)
    }

    // MARK: Helpers

    static func tokens(_ response: TokenResponse, now: Date) -> TokenSet {
        TokenSet(
            accessToken: response.accessToken, refreshToken: response.refreshToken,
            accessTokenExpiresAt: now.addingTimeInterval(Double(response.expiresIn)),
            refreshTokenExpiresAt: now.addingTimeInterval(Double(response.refreshTokenExpiresIn)),
            refreshTokenHardExpiresAt: response.refreshTokenHardExpiresIn.map { now.addingTimeInterval(Double($0)) }
        )
    }

    func statusChanged(org: OrgID, from: ConnectionStatus, to: ConnectionStatus, reason: String) async {
        await refreshCounts()
        hub.publish(
            topic: NotificationTopic.connectionStatusChanged, org: org,
            params: ConnectionStatusChanged(org: org.rawValue, from: from.rawValue, to: to.rawValue, reason: reason, at: Timestamp.string(Date()))
        )
    }

    func refreshCounts() async {
        if let counts = try? await orgs.statusCounts() { state.updateOrgCounts(counts) }
    }
}

/// `connection.status_changed` notification params.
struct ConnectionStatusChanged: Encodable, Sendable {
    var org: String
    var from: String
    var to: String
    var reason: String
    var at: String
}

extension Data {
    /// base64url without padding (RFC 4648 §5), for OAuth states.
    var base64URLEncoded: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
