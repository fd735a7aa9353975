import Foundation
import Logging
import QBOClient
import QBSyncCore
import QBSyncStore
import Synchronization

/// Keeps each org's tokens fresh: one refresh per org at a time (single flight), which
/// concurrent callers share and the org's API calls wait for. A refreshed pair is committed to
/// the store before anything uses it, and only over the token generation it started from; a pair
/// the store cannot commit yet is kept in memory and used (F2). On PostgreSQL the refresh runs
/// under the org's row lock, from the look through the call to Intuit to the commit, so instances
/// refreshing one org at once (the lease holder's schedule, any instance's 401 or `token.refresh`)
/// take turns and never spend one refresh token twice; each such refresh holds a pooled connection
/// while Intuit answers. The refresh itself is in `TokenRefresher+Refresh.swift`.
final class TokenRefresher: Sendable {
    /// An API call refreshes first when the access token has less than this left.
    static let onDemandWindow: TimeInterval = 10

    /// An org's next refresh moved, or it left the schedule.
    enum ScheduleChange: Sendable {
        /// A new access token that expires in this many seconds (the scheduler subtracts its margin).
        case tokenExpires(OrgID, inSeconds: TimeInterval)
        /// A failed refresh: try again in this many seconds.
        case retry(OrgID, inSeconds: TimeInterval)
        case removed(OrgID)
    }

    let repository: any ConnectionStore
    let orgs: any OrgStore
    let clients: IntuitClients
    let notifier: OrgStatusNotifier
    /// Counts refreshes by outcome (nil in tests that do not look).
    let metrics: DaemonMetrics?
    let logger: Logger
    /// Told whenever an org's refresh schedule changes.
    let scheduleChanges: AsyncStream<ScheduleChange>.Continuation
    /// Refreshed pairs the store could not record yet (F2).
    let uncommitted = UncommittedTokens()
    let inFlight = Mutex<[OrgID: Task<Connection, any Error>]>([:])

    init(
        repository: any ConnectionStore, orgs: any OrgStore, clients: IntuitClients, notifier: OrgStatusNotifier, metrics: DaemonMetrics?,
        scheduleChanges: AsyncStream<ScheduleChange>.Continuation, logger: Logger
    ) {
        self.repository = repository
        self.orgs = orgs
        self.clients = clients
        self.notifier = notifier
        self.metrics = metrics
        self.scheduleChanges = scheduleChanges
        self.logger = logger
    }

    func logger(for org: OrgID, realm: String? = nil) -> Logger {
        var logger = self.logger
        logger[metadataKey: LogKey.org] = "\(org)"
        if let realm { logger[metadataKey: LogKey.realm] = "\(realm)" }
        return logger
    }

    /// Refreshes the org's tokens, sharing a refresh already in flight; Intuit's refusal comes
    /// out as a ``CompanyCallError``.
    @discardableResult
    func refresh(org: OrgID, reason: String) async throws -> Connection {
        do {
            return try await sharedRefresh(org: org, reason: reason)
        } catch let error as QBOClientError {
            throw CompanyCallError(org: org, error: error)
        }
    }

    /// ``refresh(org:reason:)`` with Intuit's refusal as the client's error, for a
    /// ``CompanyClient`` (which retries what a retry can cure).
    func sharedRefresh(org: OrgID, reason: String) async throws -> Connection {
        let (task, started) = inFlight.withLock { running -> (Task<Connection, any Error>, Bool) in
            if let task = running[org] { return (task, false) }
            let task = Task { try await self.performRefresh(org: org, reason: reason) }
            running[org] = task
            return (task, true)
        }
        if started {
            defer { _ = inFlight.withLock { $0.removeValue(forKey: org) } }
            return try await task.value
        }
        return try await task.value
    }

    /// The org's connection with a token fit to use: waits for a refresh in flight, never an
    /// older pair while a newer one is kept in memory, refreshed first when about to expire.
    func usableConnection(_ org: OrgID) async throws -> Connection {
        if let running = inFlight.withLock({ $0[org] }) { return try await running.value }
        guard let stored = try await repository.connection(org) else { throw try await notConnected(org) }
        guard stored.status == .connected else { throw QBSyncError.needsReauthorization(org) }
        let connection = uncommitted.newer(than: stored) ?? stored
        // The scheduler refreshes ahead of expiry; this only catches a token it could not renew in time.
        if connection.tokens.accessTokenExpiresAt.timeIntervalSinceNow < Self.onDemandWindow {
            logger(for: org).info("access token refreshed on demand: it was about to expire")
            return try await sharedRefresh(org: org, reason: "expiring")
        }
        return connection
    }

    /// The org must connect again: out of the schedule, logged with Intuit's reason, notified.
    func needsReauthorization(org: OrgID, reason: String) async throws {
        let previous = try await repository.markNeedsReauthorization(org: org, error: reason, now: Date())
        scheduleChanges.yield(.removed(org))
        logger(for: org).warning("organisation must connect to QuickBooks again", metadata: [LogKey.reason: "\(reason)"])
        if previous != .needsReauthorization { await notifier.statusChanged(org: org, from: previous ?? .connected, to: .needsReauthorization, reason: reason) }
    }

    func notConnected(_ org: OrgID) async throws -> QBSyncError {
        guard let info = try await orgs.find(org) else { return .notFound(what: "organisation \(org)") }
        return info.status == .needsReauthorization ? .needsReauthorization(org) : .orgNotConnected(org)
    }

    static func tokens(_ response: TokenResponse, now: Date) -> TokenSet {
        TokenSet(
            accessToken: response.accessToken, refreshToken: response.refreshToken,
            accessTokenExpiresAt: now.addingTimeInterval(Double(response.expiresIn)),
            refreshTokenExpiresAt: now.addingTimeInterval(Double(response.refreshTokenExpiresIn)),
            refreshTokenHardExpiresAt: response.refreshTokenHardExpiresIn.map { now.addingTimeInterval(Double($0)) }
        )
    }
}
