public import Logging

/// Every setting's default, in one table: what the daemon uses when a setting is unset, what
/// `--check-config` shows, and what qbctl assumes. Valid ranges stay with the loading rules.
public enum SettingDefaults {
    public static let configPath = "/etc/qbsyncd/qbsyncd.conf"
    public static let environment = QBOEnvironment.sandbox
    public static let authorizeURL = "https://appcenter.intuit.com/connect/oauth2"
    public static let tokenURL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    public static let revokeURL = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
    public static let sandboxAPIBaseURL = "https://sandbox-quickbooks.api.intuit.com"
    public static let productionAPIBaseURL = "https://quickbooks.api.intuit.com"
    public static let minorVersion = 75
    public static let timeoutSeconds = 30
    /// Used when neither `QBSYNCD_STATE_DIR` nor systemd's `STATE_DIRECTORY` is set.
    public static let stateDirectory = "/var/lib/qbsyncd"
    /// The socket's name inside systemd's `RUNTIME_DIRECTORY`.
    public static let controlSocketName = "control.sock"
    /// Used when neither `QBSYNCD_CONTROL_SOCKET` nor `RUNTIME_DIRECTORY` is set (and by qbctl).
    public static let controlSocket = "/run/qbsyncd/control.sock"
    public static let controlGroup = "qbsyncd"
    public static let webhookListen = ListenAddress(host: "127.0.0.1", port: 8731)
    public static let controlMaxConnections = 256
    public static let controlMaxConnectionsPerUID = 64
    public static let controlIdleTimeoutSeconds = 300
    public static let webhookRequestTimeoutSeconds = 15
    /// The token key's file inside the state directory when no other source is given.
    public static let generatedTokenKeyName = "token.key"
    public static let refreshMarginSeconds = 300
    public static let reconnectWarningDays = 30
    public static let invoiceItemName = "Service Charge"
    public static let sweepPeriodSeconds = 86_400
    public static let reconcileGraceSeconds = 120
    /// Intuit's Builder tier.
    public static let readQuota = 500_000
    public static let readReservePercent = 5
    public static let coalesceWindowSeconds = 3.0
    public static let pipelineConcurrency = 16
    public static let webhookLossThresholdPercent = 5
    public static let logLevel = Logger.Level.info
    /// Unset: the embedded SQLite store in the state directory, not a shared PostgreSQL database.
    public static let databaseURL: DatabaseURL? = nil
    /// A company lease's length when several instances share PostgreSQL (renewed every sixth of it).
    public static let leaseSeconds = 90
}
