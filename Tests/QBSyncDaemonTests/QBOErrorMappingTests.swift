import QBOClient
import QBSyncCore
import Testing
@testable import QBSyncDaemon

/// Intuit's answers as callers see them, from the one table the dispatcher applies.
@Suite struct QBOErrorMappingTests {
    let org = OrgID("acme")!

    @Test func theBudgetsOwnRefusalAndIntuitsThrottleAreBothRateLimited() {
        #expect(QBOErrorMapping.protocolError(.overBudget(retryAfterSeconds: 4), org: org) == .rateLimited(retryAfterSeconds: 4))
        #expect(QBOErrorMapping.protocolError(.throttled(retryAfterSeconds: 60), org: org) == .rateLimited(retryAfterSeconds: 60))
    }

    @Test func aRefusalNoRefreshCuresNamesTheOrg() {
        let fault = QBOFault(code: "3100", message: "AuthorizationFailed", detail: "", type: "AUTHENTICATION")
        #expect(QBOErrorMapping.protocolError(.forbidden(fault), org: org) == .needsReauthorization(org))
        #expect(QBOErrorMapping.protocolError(.invalidGrant, org: org) == .needsReauthorization(org))
    }

    @Test func aCallErrorKeepsIntuitsFaultForTheSyncLogicAndReadsAsTheProtocolErrorsWords() {
        let fault = QBOFault(code: "610", message: "Object Not Found", detail: "made inactive", type: "ValidationFault")
        let error = CompanyCallError(org: org, error: .rejected(fault))
        #expect(error.isFault("610") && !error.isFault("5010"))
        #expect(error.description == QBSyncError.qboRejected(fault).rpcError.message)
        #expect(CompanyCallError(org: org, error: .unavailable("QuickBooks answered 503")).fault == nil)
        #expect(SyncService.isRefusal(error) && !SyncService.isRefusal(CompanyCallError(org: org, error: .unavailable("x"))))
    }
}
