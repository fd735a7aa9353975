import Foundation
import Logging
import QBOClient
import QBSyncCore
import QBSyncStore

/// Hands out each org's company as a ``CompanyClient`` (through ``OrgCompany``): one request
/// budget per company shared by every caller, one retry policy, the org's tokens from the
/// ``TokenRefresher``. Also `org.test`.
struct CompanyAccess: Sendable {
    let refresher: TokenRefresher
    let repository: any ConnectionStore
    /// The companies' service items (for `org.test`).
    let items: any MappingStore
    let clients: IntuitClients
    /// Every API call of every caller goes through this, per company.
    let limiter: RealmLimiter
    let metrics: DaemonMetrics?

    /// The org's company, whose reads count against the budget as `reads`; with `realm`, only
    /// while the org is still in that company (F1).
    func company(_ org: OrgID, realm: String? = nil, reads: ReadClass = .event) throws(QBSyncError) -> OrgCompany {
        let metrics = self.metrics
        let client = CompanyClient(
            accounting: try clients.accounting(reads: reads), tokens: OrgTokens(refresher: refresher, org: org, realm: realm), limiter: limiter,
            logger: refresher.logger(for: org, realm: realm), observe: { metrics?.qboCall(outcome: $0) }
        )
        return OrgCompany(org: org, client: client)
    }

    /// The company the org's records are kept for now: its connection's, also while it waits to
    /// reconnect (its records stay readable); `org_not_connected` when it has none.
    func currentRealm(_ org: OrgID) async throws -> String {
        guard let realm = try await repository.realm(of: org) else { throw try await refresher.notConnected(org) }
        return realm
    }

    /// `org.test`: reads CompanyInfo with the org's token.
    func test(org: OrgID) async throws -> OrgTestCall.Result {
        let company = try company(org, reads: .operator)
        let started = ContinuousClock.now
        let (realm, info) = try await company.call { client, session async throws(QBOClientError) -> (String, CompanyInfo) in
            (session.realmID, try await client.companyInfo(realmID: session.realmID, accessToken: session.accessToken))
        }
        let elapsed = ContinuousClock.now - started
        try? await repository.setCompanyName(info.companyName, org: org)  // try?: the test's answer stands without the cached name
        let itemName = clients.settings().invoiceItemName
        let item = try await items.item(realmID: realm, name: itemName).map { OrgTestCall.Result.InvoiceItem(name: itemName, id: $0.id, incomeAccount: $0.incomeAccount) }
        return OrgTestCall.Result(
            ok: true, realmId: realm, companyName: info.companyName, latencyMs: Int(elapsed.wholeMilliseconds),
            invoiceItem: item
        )
    }
}

/// One organisation's company as the sync logic calls it: a ``CompanyClient`` whose Intuit
/// errors come out as ``CompanyCallError`` (with the org), and whose provider errors (not
/// connected, the company changed, the store) as they are.
struct OrgCompany: Sendable {
    let org: OrgID
    let client: CompanyClient

    /// ``CompanyClient/call(_:)`` for this org.
    func call<T: Sendable>(_ body: (AccountingClient, CompanySession) async throws(QBOClientError) -> T) async throws -> T {
        do {
            return try await client.call(body)
        } catch let error as QBOClientError {
            throw CompanyCallError(org: org, error: error)
        }
    }
}

/// The org's tokens as a ``CompanyClient`` asks for them. With `realm`, a session is handed out
/// only while the org is still in that company (F1): a call for the old company sends nothing.
struct OrgTokens: AccessTokenProvider {
    let refresher: TokenRefresher
    let org: OrgID
    let realm: String?

    func session() async throws -> CompanySession {
        let connection = try await refresher.usableConnection(org)
        if let realm, connection.realmID != realm {
            throw QBSyncError.conflict(detail: "organisation \(org) moved to QuickBooks company \(connection.realmID) during this call; nothing was sent")
        }
        return CompanySession(realmID: connection.realmID, accessToken: connection.tokens.accessToken)
    }

    func refreshed(after rejected: CompanySession) async throws -> CompanySession {
        let connection = try await refresher.sharedRefresh(org: org, reason: "401")
        return CompanySession(realmID: connection.realmID, accessToken: connection.tokens.accessToken)
    }

    func refused(_ fault: QBOFault, session: CompanySession) async throws {
        try await refresher.needsReauthorization(org: org, reason: "QuickBooks refused the connection (\(fault.code) \(Self.words(fault))): connect again")
    }

    /// A fault's words for a reason: its message, or its detail when the message is only a code.
    static func words(_ fault: QBOFault) -> String {
        let message = fault.message.hasPrefix("message=") ? String(fault.message.dropFirst(8).prefix { $0 != ";" }) : fault.message
        return fault.detail.isEmpty ? message : "\(message): \(fault.detail)"
    }
}
