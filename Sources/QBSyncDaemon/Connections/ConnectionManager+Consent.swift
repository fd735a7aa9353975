import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import QBOClient
import QBSyncCore
import QBSyncStore
import Synchronization

/// Connecting an org (the OAuth consent) and disconnecting it.
extension ConnectionManager {
    // MARK: Connect

    typealias Begun = OAuthBeginCall.Result

    /// A consent URL with a fresh state: 256 random bits, stored hashed, bound to the org.
    func begin(org: OrgID, now: Date = Date()) async throws -> Begun {
        let (oauth, _) = try consentClients()
        // Hex, not base64url: a state that began with "-" (one in 64) was taken by
        // `qbctl connect --state …` for an option, and the consent could not be completed.
        let stateValue = Secret(SymmetricKey(size: .bits256).withUnsafeBytes { $0.map { String(format: "%02x", $0) }.joined() })
        let expiresAt = now.addingTimeInterval(Self.stateLifetime)
        try await orgs.ensure(org, now: now)
        try await repository.insertState(stateValue, org: org, expiresAt: expiresAt, now: now)
        await notifier.refreshCounts()
        return Begun(authorizeUrl: oauth.authorizeURL(state: stateValue), state: stateValue.value, expiresAt: Timestamp.string(expiresAt))
    }

    /// Consumes the state once, exchanges the code, stores the sealed tokens, reads CompanyInfo.
    /// The same state and code again (a double callback) answers the connection without
    /// redeeming the code a second time, which Intuit would treat as fraud. A company other than
    /// the one the org's records belong to is refused before the state is used (`realm_changed`),
    /// so the same call with `fresh` can follow; `fresh` archives the old company's records. The
    /// grant this one replaces is revoked at Intuit (L12).
    func complete(state stateValue: Secret<String>, code: Secret<String>, realmID: String, fresh: Bool = false, now: Date = Date()) async throws -> OrgInfo {
        let (oauth, accounting) = try consentClients()
        // Intuit's company ids are ASCII digits, at most 19 of them (L6: not any Unicode numeral).
        guard (1...19).contains(realmID.utf8.count), realmID.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            throw QBSyncError.invalidParams(field: "realmId", detail: "is a QuickBooks company id: 1 to 19 ASCII digits")
        }
        if !fresh, let owner = try await repository.stateOwner(stateValue), let previous = try await repository.mappedCompany(org: owner, otherThan: realmID) {
            logger(for: owner, realm: realmID).notice("refused a connection to another QuickBooks company than the organisation's records belong to", metadata: [LogKey.previousRealm: "\(previous)"])
            throw QBSyncError.realmChanged(previousRealmID: previous, realmID: realmID)
        }
        let org: OrgID
        switch try await repository.consumeState(stateValue, code: code, now: now) {
        case .invalid: throw QBSyncError.invalidState
        case .repeated(let owner):
            guard let info = try await orgs.find(owner), info.status == .connected, info.realmID == realmID else { throw QBSyncError.invalidState }
            return info
        case .fresh(let owner): org = owner
        }
        let log = logger(for: org, realm: realmID)
        if let owner = try await repository.realmOwner(realmID), owner != org {
            log.warning("refused a QuickBooks company already connected to another organisation", metadata: [LogKey.owner: "\(owner)"])
            throw QBSyncError.realmInUse(realmID: realmID)
        }
        let response: TokenResponse
        do {
            response = try await oauth.exchange(code: code)
        } catch {
            log.warning("authorization code exchange failed", metadata: [LogKey.error: "\(CompanyCallError(org: org, error: error))"])
            if case .invalidGrant = error { throw QBSyncError.invalidState }
            throw CompanyCallError(org: org, error: error)
        }
        // Prove that the grant is for the company the browser named before anything is stored: a
        // realmId changed on the way would otherwise bind the org to a company it cannot reach (F6).
        let companyName: String
        do {
            companyName = try await accounting.companyInfo(realmID: realmID, accessToken: response.accessToken).companyName
        } catch {
            _ = await oauth.revoke(response.refreshToken)
            switch error {
            case .forbidden, .unauthorized:
                log.warning("refused an authorization that is not for the company the redirect named")
                throw QBSyncError.invalidParams(field: "realmId", detail: "the authorization Intuit granted is not for QuickBooks company \(realmID)")
            default:
                log.warning("the new connection could not be checked against its company; nothing was stored", metadata: [LogKey.error: "\(error)"])
                throw CompanyCallError(org: org, error: error)
            }
        }
        let previous = try await orgs.find(org)?.status ?? .disconnected
        // The grant this one replaces, revoked once the new one is stored (unreadable: nothing to revoke).
        let replaced = (try? await repository.connection(org)).map { refresher.uncommitted.newer(than: $0) ?? $0 }  // try?: a row that cannot be opened has no grant to revoke
        do {
            try await repository.connect(
                org: org, realmID: realmID, environment: clients.settings().quickBooks.environment.rawValue, tokens: TokenRefresher.tokens(response, now: now), fresh: fresh, now: now
            )
        } catch is ConnectionRepository.RealmInUse {
            _ = await oauth.revoke(response.refreshToken)
            throw QBSyncError.realmInUse(realmID: realmID)
        } catch let changed as ConnectionRepository.RealmChanged {
            _ = await oauth.revoke(response.refreshToken)
            throw QBSyncError.realmChanged(previousRealmID: changed.previousRealmID, realmID: realmID)
        }
        if let old = replaced, old.tokens.refreshToken.value != response.refreshToken.value {
            let revoked = await oauth.revoke(old.tokens.refreshToken)
            log.info("revoked the grant the new connection replaces", metadata: [LogKey.revoked: "\(revoked)", LogKey.previousRealm: "\(old.realmID)"])
        }
        if fresh { log.notice("organisation connected afresh: the records of its previous QuickBooks company are archived") }
        log.info("organisation connected to QuickBooks")
        refresher.scheduleChanges.yield(.tokenExpires(org, inSeconds: Double(response.expiresIn)))
        try await repository.setCompanyName(companyName, org: org)
        await notifier.statusChanged(org: org, from: previous, to: .connected, reason: "connected")
        guard let info = try await orgs.find(org) else { throw QBSyncError.notFound(what: "organisation \(org)") }
        return info
    }


    // MARK: Disconnect

    typealias Disconnected = OrgDisconnectCall.Result

    /// Revokes at Intuit, then forgets the tokens whatever Intuit said.
    func disconnect(org: OrgID) async throws -> Disconnected {
        let (oauth, _) = try consentClients()
        guard try await orgs.find(org) != nil else { throw QBSyncError.notFound(what: "organisation \(org)") }
        var revoked = false
        if let stored = try? await repository.connection(org) {  // try?: a row that cannot be opened has nothing to revoke
            revoked = await oauth.revoke((refresher.uncommitted.newer(than: stored) ?? stored).tokens.refreshToken)
        }
        refresher.uncommitted.forget(org)
        let previous = try await repository.disconnect(org: org, now: Date())
        refresher.scheduleChanges.yield(.removed(org))
        logger(for: org).info("organisation disconnected from QuickBooks", metadata: [LogKey.revoked: "\(revoked)"])
        if let previous, previous != .disconnected { await notifier.statusChanged(org: org, from: previous, to: .disconnected, reason: revoked ? "disconnected" : "disconnected; revoke at Intuit failed") }
        return Disconnected(org: org.rawValue, status: ConnectionStatus.disconnected.rawValue, revoked: revoked)
    }
}
