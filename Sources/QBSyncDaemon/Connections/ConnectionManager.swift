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
    let inFlight = Mutex<[OrgID: Task<Connection, any Error>]>([:])
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

    func clients() throws(QBSyncError) -> (OAuthClient, AccountingClient) {
        let settings = state.settings
        guard settings.integrationEnabled, let endpoints = QBOEndpoints(settings.quickBooks) else {
            throw .integrationDisabled(missing: settings.integrationMissing)
        }
        // The reads made here (CompanyInfo for a connect or `org.test`) are an operator's.
        return (OAuthClient(http: http, endpoints: endpoints), AccountingClient(http: http, endpoints: endpoints, meter: governor.meter(.operator)))
    }

    func logger(for org: OrgID, realm: String? = nil) -> Logger {
        var logger = self.logger
        logger[metadataKey: LogKey.org] = "\(org)"
        if let realm { logger[metadataKey: LogKey.realm] = "\(realm)" }
        return logger
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
        if let counts = try? await orgs.statusCounts() { state.updateOrgCounts(counts) }  // try?: the counts are refreshed again by the next change
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
