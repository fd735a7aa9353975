public import Foundation
public import Logging
public import QBSyncCore

/// The Accounting API for one company: every call goes through the company's request budget,
/// the one retry policy and the rule that a 401 refreshes once.
///
/// A call is a closure of one or more requests made with one session under one budget slot (a
/// push may read and write again after a stale SyncToken). Intuit's answers come out as
/// ``QBOClientError``; the provider's own errors pass through unchanged. The side effects of a
/// refusal happen here, once: a 429 blocks the company for its wait, a refusal no refresh cures
/// is reported to the provider, and Intuit's monthly refusal of reads to the meter.
public struct CompanyClient: Sendable {
    public let accounting: AccountingClient
    let tokens: any AccessTokenProvider
    let limiter: RealmLimiter
    let policy: RetryPolicy
    let clock: CallClock
    /// Hears each call's outcome (`ok`, or ``QBOClientError/outcome``), for metrics.
    let observe: @Sendable (String) -> Void
    let logger: Logger

    public init(
        accounting: AccountingClient, tokens: any AccessTokenProvider, limiter: RealmLimiter, policy: RetryPolicy = .accounting, clock: CallClock = .continuous,
        logger: Logger, observe: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.accounting = accounting
        self.tokens = tokens
        self.limiter = limiter
        self.policy = policy
        self.clock = clock
        self.logger = logger
        self.observe = observe
    }

    /// Runs `body` with a session; tried again as the policy says (5xx, timeouts, dropped
    /// connections, a short 429), refreshed and tried once more after a 401.
    public func call<T: Sendable>(_ body: (AccountingClient, CompanySession) async throws(QBOClientError) -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await authorized(body)
            } catch let error as QBOClientError {
                guard case .retry(let wait) = policy.decision(after: error, attempt: attempt, jitter: clock.random(policy.jitter)) else { throw error }
                if case .throttled = error {
                    logger.info("QuickBooks throttled the company; retrying after its wait", metadata: [LogKey.retryInSeconds: "\(wait.components.seconds)"])
                } else {
                    logger.info("QuickBooks unavailable; retrying", metadata: [LogKey.error: "\(Self.detail(error))", LogKey.attempt: "\(attempt)"])
                }
                try await clock.sleep(wait)
            }
        }
    }

    /// One try: a 401 refreshes once and tries once more; a second 401 is a refusal no refresh cures.
    private func authorized<T: Sendable>(_ body: (AccountingClient, CompanySession) async throws(QBOClientError) -> T) async throws -> T {
        let session = try await tokens.session()
        do throws(QBOClientError) {
            return try await limited(session, body)
        } catch .unauthorized {
            logger.info("QuickBooks answered 401; refreshing once and retrying")
            let fresh = try await tokens.refreshed(after: session)
            do throws(QBOClientError) {
                return try await limited(fresh, body)
            } catch .unauthorized {
                let fault = QBOFault(code: "3200", message: "AuthenticationFailed", detail: "QuickBooks refused a freshly refreshed access token", type: "AUTHENTICATION")
                throw try await settled(.forbidden(fault), session: fresh)
            } catch {
                throw try await settled(error, session: fresh)
            }
        } catch {
            throw try await settled(error, session: session)
        }
    }

    /// The call inside the company's budget. The budget's own refusal (`overBudget`) blocks
    /// nothing: only Intuit's 429 does, or a client retrying a refusal would keep the company
    /// blocked for ever (the fault campaign found this).
    private func limited<T: Sendable>(_ session: CompanySession, _ body: (AccountingClient, CompanySession) async throws(QBOClientError) -> T) async throws(QBOClientError) -> T {
        try await limiter.acquire(realmID: session.realmID)
        defer { limiter.release(realmID: session.realmID) }
        do throws(QBOClientError) {
            let result = try await body(accounting, session)
            observe("ok")
            return result
        } catch {
            observe(error.outcome)
            throw error
        }
    }

    /// What a failed try does to the company before its error goes on.
    private func settled(_ error: QBOClientError, session: CompanySession) async throws -> QBOClientError {
        switch error {
        case .forbidden(let fault):
            try await tokens.refused(fault, session: session)
        case .throttled(let seconds):
            limiter.block(realmID: session.realmID, seconds: seconds)
        case .readQuotaExhausted(nil):
            // Intuit's own refusal for the month: the meter stops every read until it ends.
            if let meter = accounting.meter { return .readQuotaExhausted(await meter.intuitRefused()) }
        default:
            break
        }
        return error
    }

    static func detail(_ error: QBOClientError) -> String {
        if case .unavailable(let detail) = error { return detail }
        return error.outcome
    }
}

extension CompanyClient {
    public func companyInfo() async throws -> (realmID: String, info: CompanyInfo) {
        try await call { client, session async throws(QBOClientError) in
            (session.realmID, try await client.companyInfo(realmID: session.realmID, accessToken: session.accessToken))
        }
    }

    public func readInvoice(id: String) async throws -> QBOInvoice {
        try await call { client, session async throws(QBOClientError) in try await client.readInvoice(id: id, realmID: session.realmID, accessToken: session.accessToken) }
    }

    public func readCustomer(id: String) async throws -> QBOCustomer {
        try await call { client, session async throws(QBOClientError) in try await client.readCustomer(id: id, realmID: session.realmID, accessToken: session.accessToken) }
    }

    /// Intuit's change feed since a time: one metered read.
    public func changes(since: Date) async throws -> ChangeFeed {
        try await call { client, session async throws(QBOClientError) in try await client.changes(since: since, realmID: session.realmID, accessToken: session.accessToken) }
    }
}
