import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import QBOClient
import QBSyncCore
import QBSyncStore
import Synchronization

/// API calls with an org's token: the limiter, the 401 rule, and Intuit's refusals read for what they say.
extension ConnectionManager {
    // MARK: Use

    struct TestResult: Encodable, Sendable {
        /// Added: the service item invoices name and the Income account it posts to (once looked up).
        struct InvoiceItem: Encodable, Sendable {
            var name: String
            var id: String
            var incomeAccount: String?
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(name, forKey: .name)
                try c.encode(id, forKey: .id)
                try c.encode(incomeAccount, forKey: .incomeAccount)
            }
            enum CodingKeys: String, CodingKey { case name, id, incomeAccount }
        }
        var ok: Bool
        var realmId: String
        var companyName: String
        var latencyMs: Int
        var invoiceItem: InvoiceItem?
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(ok, forKey: .ok)
            try c.encode(realmId, forKey: .realmId)
            try c.encode(companyName, forKey: .companyName)
            try c.encode(latencyMs, forKey: .latencyMs)
            try c.encode(invoiceItem, forKey: .invoiceItem)
        }
        enum CodingKeys: String, CodingKey { case ok, realmId, companyName, latencyMs, invoiceItem }
    }

    /// Reads CompanyInfo with the org's token.
    func test(org: OrgID) async throws -> TestResult {
        let (_, accounting) = try clients()
        let started = ContinuousClock.now
        let (realm, info) = try await withAccessToken(org: org) { connection async throws(QBOClientError) -> (String, CompanyInfo) in
            (connection.realmID, try await accounting.companyInfo(realmID: connection.realmID, accessToken: connection.tokens.accessToken))
        }
        let elapsed = ContinuousClock.now - started
        try? await repository.setCompanyName(info.companyName, org: org)  // try?: the test's answer stands without the cached name
        let itemName = state.settings.invoiceItemName
        let item = try await items.item(realmID: realm, name: itemName).map { TestResult.InvoiceItem(name: itemName, id: $0.id, incomeAccount: $0.incomeAccount) }
        return TestResult(
            ok: true, realmId: realm, companyName: info.companyName, latencyMs: Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000),
            invoiceItem: item
        )
    }

    /// Runs an API call with the org's access token: waits for a refresh in flight, refreshes a
    /// token about to expire, and on a 401 refreshes once and retries once. A 401 that the fresh
    /// token meets again is not cured by refreshing: the org must connect again (no retry loop).
    /// With `realm`, the call is made only while the org is still in that company (F1).
    func withAccessToken<T: Sendable>(org: OrgID, realm: String? = nil, _ call: (Connection) async throws(QBOClientError) -> T) async throws -> T {
        var connection = try await usableConnection(org)
        if let realm, connection.realmID != realm {
            throw QBSyncError.conflict(detail: "organisation \(org) moved to QuickBooks company \(connection.realmID) during this call; nothing was sent")
        }
        do {
            return try await limited(connection, call)
        } catch let error as QBOClientError {
            guard case .unauthorized = error else { throw try await failure(error, org: org, realmID: connection.realmID) }
            logger(for: org).info("QuickBooks answered 401; refreshing once and retrying")
            connection = try await refresh(org: org, reason: "401")
            do {
                return try await limited(connection, call)
            } catch let error as QBOClientError {
                if case .unauthorized = error {
                    let fault = QBOFault(code: "3200", message: "AuthenticationFailed", detail: "QuickBooks refused a freshly refreshed access token", type: "AUTHENTICATION")
                    throw try await failure(.forbidden(fault), org: org, realmID: connection.realmID)
                }
                throw try await failure(error, org: org, realmID: connection.realmID)
            }
        }
    }

    /// The call inside the company's budget. The daemon's own refusal comes out as `rate_limited`
    /// directly: only Intuit's 429 blocks the company, or a client retrying a refusal would keep
    /// the company blocked for ever (the fault campaign found this).
    func limited<T: Sendable>(_ connection: Connection, _ call: (Connection) async throws(QBOClientError) -> T) async throws -> T {
        do {
            try await limiter.acquire(realmID: connection.realmID)
        } catch let refusal as QBSyncError {
            throw refusal
        } catch {
            throw QBOClientError.unavailable("cancelled while waiting for the request budget")
        }
        defer { limiter.release(realmID: connection.realmID) }
        do {
            let result = try await call(connection)
            metrics?.qboCall(outcome: "ok")
            return result
        } catch {
            metrics?.qboCall(outcome: Self.outcome(error))
            throw error
        }
    }

    /// A fault's words for a reason: its message, or its detail when the message is only a code.
    static func words(_ fault: QBOFault) -> String {
        let message = fault.message.hasPrefix("message=") ? String(fault.message.dropFirst(8).prefix { $0 != ";" }) : fault.message
        return fault.detail.isEmpty ? message : "\(message): \(fault.detail)"
    }

    static func outcome(_ error: QBOClientError) -> String {
        switch error {
        case .invalidGrant: return "invalid_grant"
        case .invalidClient: return "invalid_client"
        case .unauthorized: return "unauthorized"
        case .forbidden: return "forbidden"
        case .rejected: return "rejected"
        case .throttled: return "throttled"
        case .unavailable: return "unavailable"
        case .readQuotaExhausted: return "read_quota_exhausted"
        }
    }

    /// What an Intuit refusal does to the org: a refusal no refresh cures (403 3100, 401 120 or
    /// 130, a 401 after a refresh) means it must connect again, with Intuit's reason.
    func failure(_ error: QBOClientError, org: OrgID, realmID: String) async throws -> QBSyncError {
        switch error {
        case .forbidden(let fault):
            try await needsReauthorization(org: org, reason: "QuickBooks refused the connection (\(fault.code) \(Self.words(fault))): connect again")
        case .throttled(let seconds):
            limiter.block(realmID: realmID, seconds: seconds)
        case .readQuotaExhausted(nil):
            // Intuit's own refusal for the month: the governor stops every read until it ends.
            return .readQuotaExhausted(await governor.intuitRefused())
        default:
            break
        }
        return QBOErrorMapping.protocolError(error, org: org)
    }

    func usableConnection(_ org: OrgID) async throws -> Connection {
        if let running = inFlight.withLock({ $0[org] }) { return try await running.value }
        guard let stored = try await repository.connection(org) else { throw try await notConnected(org) }
        guard stored.status == .connected else { throw QBSyncError.needsReauthorization(org) }
        // Never an older token while a newer one is known (a refreshed pair not stored yet).
        let connection = uncommitted.newer(than: stored) ?? stored
        // The scheduler refreshes ahead of expiry; this only catches a token it could not renew in time.
        if connection.tokens.accessTokenExpiresAt.timeIntervalSinceNow < Self.onDemandWindow {
            logger(for: org).info("access token refreshed on demand: it was about to expire")
            return try await refresh(org: org, reason: "expiring")
        }
        return connection
    }

    /// The company the org's records are kept for now: its connection's, also while it waits to
    /// reconnect (its records stay readable); `org_not_connected` when it has none.
    func currentRealm(_ org: OrgID) async throws -> String {
        guard let realm = try await repository.realm(of: org) else { throw try await notConnected(org) }
        return realm
    }

    func notConnected(_ org: OrgID) async throws -> QBSyncError {
        guard let info = try await orgs.find(org) else { return .notFound(what: "organisation \(org)") }
        return info.status == .needsReauthorization ? .needsReauthorization(org) : .orgNotConnected(org)
    }
}
