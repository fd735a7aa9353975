import Foundation
import Logging
import QBOClient
import QBSyncCore
import QBSyncStore
import Synchronization

/// One refresh: a kept pair committed first, then Intuit asked under the row's lock (the store's
/// ``ConnectionStore/refreshLocked(org:seenGeneration:now:_:)``: on PostgreSQL the transaction
/// that locks the row calls Intuit and commits the answer, so two instances never spend the same
/// refresh token), under the token endpoint's retry policy, the answer committed before use.
extension TokenRefresher {
    /// What the call to Intuit inside the lock came to, seen from outside it: the store's error
    /// alone cannot tell "Intuit was not asked" from "Intuit answered, the commit failed" (F2).
    enum IntuitAsked: Sendable {
        case answered(TokenResponse)
        case refused(QBOClientError)
        /// Ended by something other than Intuit's answer (a cancellation).
        case interrupted
    }

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
        let now = Date()
        let asked = Mutex<IntuitAsked?>(nil)
        let outcome: LockedRefresh
        do {
            // The store proves it can write before Intuit is asked: Intuit may rotate the refresh
            // token, and an answer the store cannot record could be lost for good.
            outcome = try await repository.refreshLocked(org: org, seenGeneration: connection.generation, now: now) { stored in
                // A lost answer may have been processed: the same refresh token is tried again at once.
                do {
                    let response = try await RetryPolicy.tokenEndpoint.run(clock: .continuous, retrying: { error, _ in
                        log.info("refresh failed; retrying with the same refresh token", metadata: [LogKey.error: "\(CompanyCallError(org: org, error: error))"])
                    }) { () async throws(QBOClientError) -> TokenResponse in try await oauth.refresh(stored.refreshToken) }
                    asked.withLock { $0 = .answered(response) }
                    return Self.tokens(response, now: now)
                } catch let error as QBOClientError {
                    asked.withLock { $0 = .refused(error) }
                    throw error
                } catch {
                    asked.withLock { $0 = .interrupted }
                    throw error
                }
            }
        } catch {
            switch asked.withLock({ $0 }) {
            case .answered(let response)?:
                // Intuit answered but the commit failed: the new pair is kept in memory, in use,
                // until a retry commits it (F2); the refresh token it replaced is spent.
                var kept = connection
                kept.tokens = Self.tokens(response, now: now)
                uncommitted.keep(kept, over: connection)
                scheduleChanges.yield(.retry(org, inSeconds: 5))
                metrics?.tokenRefresh(outcome: "uncommitted")
                log.error("refreshed tokens could not be stored; kept in memory and stored again shortly", metadata: [LogKey.error: "\(error)"])
                return kept
            case .refused(let refusal)?:
                // Nothing of the lock's transaction was written: the failure is recorded now.
                return try await refreshFailed(refusal, connection: connection, now: now, log: log)
            case .interrupted?:
                throw error
            case nil:
                // Intuit may rotate the refresh token: asking now could lose the new one for good.
                scheduleChanges.yield(.retry(org, inSeconds: 30))
                log.error("token refresh not asked: the store cannot record its answer", metadata: [LogKey.error: "\(error)"])
                throw error
            }
        }
        switch outcome {
        case .refreshed(let updated):
            scheduleChanges.yield(.tokenExpires(org, inSeconds: updated.tokens.accessTokenExpiresAt.timeIntervalSince(now)))
            metrics?.tokenRefresh(outcome: "ok")
            log.debug("access token refreshed", metadata: [LogKey.reason: "\(reason)"])
            if connection.refreshFailures > 0 { await notifier.refreshCounts() }
            return updated
        case .alreadyRefreshed(let current):
            if asked.withLock({ $0 }) == nil {
                // Another caller (another instance, on PostgreSQL) refreshed while this one waited for the lock.
                log.debug("tokens refreshed meanwhile by another caller; using them", metadata: [LogKey.reason: "\(reason)"])
            } else {
                log.notice("tokens changed during a refresh; keeping the newer ones")
            }
            return current
        case .notConnected:
            throw try await notConnected(org)
        }
    }

    /// Intuit refused the refresh (nothing was committed): `invalid_grant` needs a reconnection,
    /// anything else is recorded and tried again after a back-off.
    func refreshFailed(_ error: QBOClientError, connection: Connection, now: Date, log: Logger) async throws -> Connection {
        let org = connection.org
        switch error {
        case .invalidGrant:
            metrics?.tokenRefresh(outcome: "invalid_grant")
            // Another writer may have rotated the pair meanwhile (reference §1.7): look once more.
            if let current = try await repository.connection(org), current.generation != connection.generation, current.status == .connected {
                return current
            }
            try await needsReauthorization(org: org, reason: "Intuit refused the refresh token (invalid_grant)")
            throw QBSyncError.needsReauthorization(org)
        default:
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
