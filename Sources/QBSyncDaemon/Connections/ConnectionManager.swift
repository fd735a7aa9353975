import AsyncHTTPClient
import Foundation
import Logging
import QBOClient
import QBSyncCore
import QBSyncStore

/// Connects organisations to their QuickBooks companies (the OAuth consent) and disconnects
/// them; `ConnectionManager+Consent.swift` holds the flow.
///
/// Built with the other connection parts it works with: the ``TokenRefresher`` (a connection
/// hands its first expiry to the schedule; a pair kept in memory is the one revoked) and the
/// ``CompanyAccess`` built over the same refresher, which the composition root hands on.
final class ConnectionManager: Sendable {
    /// How long an OAuth state lives.
    static let stateLifetime: TimeInterval = 600
    typealias ScheduleChange = TokenRefresher.ScheduleChange

    let repository: any ConnectionStore
    let orgs: any OrgStore
    let clients: IntuitClients
    let notifier: OrgStatusNotifier
    let refresher: TokenRefresher
    /// Each org's company, for the services that call it (not used by the consent itself).
    let access: CompanyAccess
    let logger: Logger

    init(
        repository: any ConnectionStore, orgs: any OrgStore, items: any MappingStore, state: DaemonState, hub: NotificationHub, http: HTTPClient, governor: ReadGovernor,
        scheduleChanges: AsyncStream<ScheduleChange>.Continuation, metrics: DaemonMetrics? = nil, logger: Logger
    ) {
        self.repository = repository
        self.orgs = orgs
        self.logger = logger
        clients = IntuitClients(settings: { state.settings }, http: http, governor: governor)
        notifier = OrgStatusNotifier(orgs: orgs, hub: hub, state: state)
        refresher = TokenRefresher(
            repository: repository, orgs: orgs, clients: clients, notifier: notifier, metrics: metrics, scheduleChanges: scheduleChanges, logger: logger
        )
        access = CompanyAccess(
            refresher: refresher, repository: repository, items: items, clients: clients, limiter: RealmLimiter(), metrics: metrics
        )
    }

    /// The consent's clients; the CompanyInfo read of a connect is an operator's.
    func consentClients() throws(QBSyncError) -> (OAuthClient, AccountingClient) {
        (try clients.oauth(), try clients.accounting(reads: .operator))
    }

    func logger(for org: OrgID, realm: String? = nil) -> Logger { refresher.logger(for: org, realm: realm) }
}

extension Data {
    /// base64url without padding (RFC 4648 §5), for OAuth states.
    var base64URLEncoded: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
