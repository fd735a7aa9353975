public import QBSyncCore

/// How an Intuit call ended when it did not succeed. The daemon maps these to protocol errors in
/// one place (`QBOErrorMapping`); nothing here carries a token.
public enum QBOClientError: Error, Sendable, Equatable {
    /// The token endpoint refused the grant (`invalid_grant`): the org must connect again.
    case invalidGrant
    /// The token endpoint refused the app's credentials (`invalid_client`).
    case invalidClient
    /// The API answered 401 (expired or unknown access token).
    case unauthorized
    /// Intuit refused the connection in a way no refresh cures: 403 3100 (the app was disconnected,
    /// or the token lacks the scope), 401 120 (the connecting user lost access) or 130 (wrong
    /// cluster). The org must connect again.
    case forbidden(QBOFault)
    /// QuickBooks refused the request with a Fault.
    case rejected(QBOFault)
    /// 429: the company's request budget is spent.
    case throttled(retryAfterSeconds: Int)
    /// A metered read refused for the app's monthly budget: by the daemon's governor before the
    /// call (with its counts), or by Intuit (nil: Intuit gives no counts).
    case readQuotaExhausted(QuotaRefusal?)
    /// 5xx, a timeout, a dropped connection, or an answer that is not Intuit's.
    case unavailable(String)
}
