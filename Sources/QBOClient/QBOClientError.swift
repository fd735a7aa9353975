public import QBSyncCore

/// How an Intuit call ended when it did not succeed. The daemon maps these to protocol errors in
/// one place (`QBOErrorMapping`, applied by its dispatcher); nothing here carries a token.
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
    /// 429: the company's request budget is spent (Intuit said so).
    case throttled(retryAfterSeconds: Int)
    /// The company's own request budget (``RealmLimiter``) had no room in time, or the company is
    /// blocked after a 429: nothing was sent.
    case overBudget(retryAfterSeconds: Int)
    /// A metered read refused for the app's monthly budget: by the daemon's governor before the
    /// call (with its counts), or by Intuit (nil: Intuit gives no counts).
    case readQuotaExhausted(QuotaRefusal?)
    /// 5xx, a timeout, a dropped connection, or an answer that is not Intuit's.
    case unavailable(String)
}

extension QBOClientError {
    /// The `outcome` label of the QuickBooks-calls metric.
    public var outcome: String {
        switch self {
        case .invalidGrant: return "invalid_grant"
        case .invalidClient: return "invalid_client"
        case .unauthorized: return "unauthorized"
        case .forbidden: return "forbidden"
        case .rejected: return "rejected"
        case .throttled: return "throttled"
        case .overBudget: return "over_budget"
        case .unavailable: return "unavailable"
        case .readQuotaExhausted: return "read_quota_exhausted"
        }
    }
}
