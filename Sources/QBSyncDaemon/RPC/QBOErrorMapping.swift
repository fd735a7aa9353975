import Foundation
import QBOClient
import QBSyncCore

/// Every mapping of an Intuit answer to a protocol error, in one place: the dispatcher applies it
/// to a handler's ``CompanyCallError`` (and ``CompanyCallError/description`` reads its words).
enum QBOErrorMapping {
    static func protocolError(_ error: QBOClientError, org: OrgID) -> QBSyncError {
        switch error {
        case .invalidGrant, .forbidden:
            return .needsReauthorization(org)
        case .invalidClient:
            return .qboRejected(QBOFault(code: "invalid_client", message: "Intuit refused the app's client id or secret", detail: "check QUICKBOOKS_CLIENT_ID and QUICKBOOKS_CLIENT_SECRET", type: "OAuth"))
        case .unauthorized:
            return .qboRejected(QBOFault(code: "3200", message: "AuthenticationFailed", detail: "QuickBooks refused a freshly refreshed access token", type: "AUTHENTICATION"))
        case .rejected(let fault):
            return .qboRejected(fault)
        case .throttled(let seconds), .overBudget(let seconds):
            return .rateLimited(retryAfterSeconds: seconds)
        case .unavailable(let detail):
            return .qboUnavailable(detail: detail)
        case .readQuotaExhausted(let refusal):
            let month = ReadBudget.month(of: Date())
            return .readQuotaExhausted(refusal ?? QuotaRefusal(used: 0, budget: 0, month: month, resetsAt: ReadBudget.monthEnd(of: month)))
        }
    }
}
