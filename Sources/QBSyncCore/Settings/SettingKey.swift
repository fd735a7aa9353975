/// The names of every setting, as environment variables and settings-file keys.
public enum SettingKey {
    public static let clientID = "QUICKBOOKS_CLIENT_ID"
    public static let clientSecret = "QUICKBOOKS_CLIENT_SECRET"
    public static let redirectURI = "QUICKBOOKS_REDIRECT_URI"
    public static let environment = "QUICKBOOKS_ENVIRONMENT"
    public static let verifierToken = "QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN"
    public static let authorizeURL = "QUICKBOOKS_AUTHORIZE_URL"
    public static let tokenURL = "QUICKBOOKS_TOKEN_URL"
    public static let revokeURL = "QUICKBOOKS_REVOKE_URL"
    public static let apiBaseURL = "QUICKBOOKS_API_BASE_URL"
    public static let minorVersion = "QUICKBOOKS_MINOR_VERSION"
    public static let timeout = "QUICKBOOKS_TIMEOUT"
    public static let stateDirectory = "QBSYNCD_STATE_DIR"
    public static let controlSocket = "QBSYNCD_CONTROL_SOCKET"
    public static let controlGroup = "QBSYNCD_CONTROL_GROUP"
    public static let readonlyGroup = "QBSYNCD_READONLY_GROUP"
    public static let webhookListen = "QBSYNCD_WEBHOOK_LISTEN"
    public static let tokenKeyFile = "QBSYNCD_TOKEN_KEY_FILE"
    public static let refreshMargin = "QBSYNCD_REFRESH_MARGIN"
    public static let logLevel = "QBSYNCD_LOG_LEVEL"
    public static let reconnectWarningDays = "QBSYNCD_RECONNECT_WARNING_DAYS"
    public static let invoiceItem = "QBSYNCD_INVOICE_ITEM"
    /// 0.1's name for ``sweepPeriod``, still read when that is unset.
    public static let reconcileInterval = "QBSYNCD_RECONCILE_INTERVAL"
    public static let reconcileGrace = "QBSYNCD_RECONCILE_GRACE"
    public static let webhookLossThreshold = "QBSYNCD_WEBHOOK_LOSS_THRESHOLD"
    public static let readQuota = "QUICKBOOKS_READ_QUOTA"
    public static let readReserve = "QBSYNCD_READ_RESERVE"
    public static let sweepPeriod = "QBSYNCD_SWEEP_PERIOD"
    public static let coalesceWindow = "QBSYNCD_COALESCE_WINDOW"
    public static let pipelineConcurrency = "QBSYNCD_PIPELINE_CONCURRENCY"
    public static let incomeAccount = "QBSYNCD_INCOME_ACCOUNT"
    public static let controlMaxConnections = "QBSYNCD_CONTROL_MAX_CONNECTIONS"
    public static let controlMaxConnectionsPerUID = "QBSYNCD_CONTROL_MAX_CONNECTIONS_PER_UID"
    public static let controlIdleTimeout = "QBSYNCD_CONTROL_IDLE_TIMEOUT"
    public static let webhookRequestTimeout = "QBSYNCD_WEBHOOK_REQUEST_TIMEOUT"
    public static let databaseURL = "QBSYNCD_DATABASE_URL"
    public static let leaseSeconds = "QBSYNCD_LEASE_SECONDS"
    public static let config = "QBSYNCD_CONFIG"

    /// Every key a settings file may hold.
    public static let all: [String] = [
        clientID, clientSecret, redirectURI, environment, verifierToken, authorizeURL, tokenURL, revokeURL,
        apiBaseURL, minorVersion, timeout, stateDirectory, controlSocket, controlGroup, readonlyGroup, webhookListen,
        tokenKeyFile, refreshMargin, logLevel, reconnectWarningDays, invoiceItem, reconcileInterval, reconcileGrace, webhookLossThreshold,
        readQuota, readReserve, sweepPeriod, coalesceWindow, pipelineConcurrency, incomeAccount,
        controlMaxConnections, controlMaxConnectionsPerUID, controlIdleTimeout, webhookRequestTimeout, databaseURL, leaseSeconds,
    ]

    /// Never printed or logged; may also come from `$CREDENTIALS_DIRECTORY/<lower-case name>`.
    /// (The database URL may hold a password: it is shown only as ``DatabaseURL/redacted``.)
    public static let secrets: Set<String> = [clientSecret, verifierToken, databaseURL]

    /// The four that must be set (with a valid environment) for the integration to be enabled.
    public static let integrationRequired: [String] = [clientID, clientSecret, redirectURI, verifierToken]

    public static var defaultConfigPath: String { SettingDefaults.configPath }
}
