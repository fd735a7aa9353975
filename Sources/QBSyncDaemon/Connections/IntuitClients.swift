import AsyncHTTPClient
import QBOClient
import QBSyncCore

/// The settings in force: a reload replaces them, so holders ask each time.
typealias CurrentSettings = @Sendable () -> Settings

/// Intuit's clients as the settings in force describe them (a reload may change the endpoints).
struct IntuitClients: Sendable {
    let settings: CurrentSettings
    let http: HTTPClient
    /// The app-wide read budget: every metered read is counted (or refused) here first.
    let governor: ReadGovernor

    /// Where Intuit is; `integration_disabled` while settings are missing.
    func endpoints() throws(QBSyncError) -> QBOEndpoints {
        let settings = settings()
        guard settings.integrationEnabled, let endpoints = QBOEndpoints(settings.quickBooks) else {
            throw .integrationDisabled(missing: settings.integrationMissing)
        }
        return endpoints
    }

    func oauth() throws(QBSyncError) -> OAuthClient { OAuthClient(http: http, endpoints: try endpoints()) }

    /// An Accounting API client whose reads count against the budget as `reads`.
    func accounting(reads: ReadClass) throws(QBSyncError) -> AccountingClient {
        AccountingClient(http: http, endpoints: try endpoints(), meter: governor.meter(reads))
    }
}
