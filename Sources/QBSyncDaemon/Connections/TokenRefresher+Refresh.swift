import Foundation
import Logging
import QBOClient
import QBSyncCore
import QBSyncStore

/// One refresh: a kept pair committed first, the store proved writable, Intuit asked under the
/// token endpoint's retry policy, the answer committed before use.
extension TokenRefresher {
    func performRefresh(org: OrgID, reason: String) async throws -> Connection {
        let oauth = try clients.oauth()
        guard var connection = try await repository.connection(org) else { throw try await notConnected(org) }
        guard connection.status == .connected else { throw QBSyncError.needsReauthorization(org) }
        let log = logger(for: org, realm: connection.realmID)
        if let newer = uncommitted.newer(than: connection) {
            // A pair Intuit issued that the store could not record: record it before anything else.
            connection = try await commitKept(newer, over: connection, log: log)
            if reason != "401", connection.tokens.accessTokenExpiresAt.timeIntervalSinceNow > Double(clients.settings().refreshMarginSeconds) { return connection }
        }
        do {
            try await repository.recordRefreshStarted(org: org, now: Date())
        } catch {
            // Intuit may rotate the refresh token: asking now could lose the new one for good.
            scheduleChanges.yield(.retry(org, inSeconds: 30))
            log.error("token refresh not asked: the store cannot record its answer", metadata: [LogKey.error: "\(error)"])
            throw error
        }
        // A lost answer may have been processed: the same refresh token is tried again at once.
        let refreshToken = connection.tokens.refreshToken
        let now = Date()
        let outcome: Result<TokenResponse, QBOClientError>
        do {
            outcome = .success(
                try await RetryPolicy.tokenEndpoint.run(clock: .continuous, retrying: { error, _ in
                    log.info("refresh failed; retrying with the same refresh token", metadata: [LogKey.error: "\(CompanyCallError(org: org, error: error))"])
                }) { () async throws(QBOClientError) -> TokenResponse in try await oauth.refresh(refreshToken) }
            )
        } catch let error as QBOClientError {
            outcome = .failure(error)
        }
        switch outcome {
        case .success(let response):
            let tokens = Self.tokens(response, now: now)
            // Committed before anything uses it: a crash now cannot lose the new refresh token. A
            // store that fails now keeps it in memory, in use, until a retry commits it (F2).
            let stored: Bool
            do {
                stored = try await repository.storeRefreshed(org: org, realmID: connection.realmID, tokens: tokens, expectedGeneration: connection.generation, now: now)
            } catch {
                var kept = connection
                kept.tokens = tokens
                uncommitted.keep(kept, over: connection)
                scheduleChanges.yield(.retry(org, inSeconds: 5))
                metrics?.tokenRefresh(outcome: "uncommitted")
                log.error("refreshed tokens could not be stored; kept in memory and stored again shortly", metadata: [LogKey.error: "\(error)"])
                return kept
            }
            guard stored else {
                log.notice("tokens changed during a refresh; keeping the newer ones")
                guard let current = try await repository.connection(org) else { throw try await notConnected(org) }
                return current
            }
            scheduleChanges.yield(.tokenExpires(org, inSeconds: Double(response.expiresIn)))
            metrics?.tokenRefresh(outcome: "ok")
            log.debug("access token refreshed", metadata: [LogKey.reason: "\(reason)"])
            if connection.refreshFailures > 0 { await notifier.refreshCounts() }
            guard let updated = try await repository.connection(org) else { throw try await notConnected(org) }
            return updated
        case .failure(.invalidGrant):
            metrics?.tokenRefresh(outcome: "invalid_grant")
            // Another writer may have rotated the pair meanwhile (reference §1.7): look once more.
            if let current = try await repository.connection(org), current.generation != connection.generation, current.status == .connected {
                return current
            }
            try await needsReauthorization(org: org, reason: "Intuit refused the refresh token (invalid_grant)")
            throw QBSyncError.needsReauthorization(org)
        case .failure(let error):
            let failures = connection.refreshFailures + 1
            let cooldown = Self.cooldown(failures: failures)
            let message = CompanyCallError(org: org, error: error).description
            metrics?.tokenRefresh(outcome: error.outcome)
            try await repository.recordRefreshFailure(org: org, error: message, nextRetryAt: now.addingTimeInterval(cooldown), now: now)
            scheduleChanges.yield(.retry(org, inSeconds: cooldown))
            log.warning("access token refresh failed", metadata: [LogKey.error: "\(message)", LogKey.retryInSeconds: "\(Int(cooldown))"])
            throw error
        }
    }

    /// Commits a pair kept in memory; still failing, the org is tried again shortly.
    func commitKept(_ kept: Connection, over base: Connection, log: Logger) async throws -> Connection {
        do {
            let now = Date()
            let committed = try await repository.storeRefreshed(org: kept.org, realmID: kept.realmID, tokens: kept.tokens, expectedGeneration: base.generation, now: now)
            uncommitted.forget(kept.org)
            guard committed, let current = try await repository.connection(kept.org) else { throw try await notConnected(kept.org) }
            log.notice("refreshed tokens kept in memory are stored now")
            scheduleChanges.yield(.tokenExpires(kept.org, inSeconds: kept.tokens.accessTokenExpiresAt.timeIntervalSince(now)))
            return current
        } catch {
            scheduleChanges.yield(.retry(kept.org, inSeconds: 5))
            log.warning("refreshed tokens kept in memory still cannot be stored", metadata: [LogKey.error: "\(error)"])
            throw error
        }
    }

    /// Back-off after failed refreshes: 30 s doubling to 15 min, with jitter; never a storm.
    static func cooldown(failures: Int) -> TimeInterval {
        TokenRefreshStateMachine<ContinuousClock.Instant>.cooldown(failures: failures, jitterFactor: Double.random(in: 0.8...1.2))
    }
}
