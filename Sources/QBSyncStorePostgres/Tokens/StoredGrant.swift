public import Foundation
public import QBSyncCore
public import QBSyncStore

/// An org's grant as the PostgreSQL store holds it, its tokens opened: the fields of the SQLite
/// store's `Connection` that a refresh needs.
public struct StoredGrant: Sendable {
    public var org: OrgID
    public var realmID: String
    public var status: ConnectionStatus
    public var tokens: TokenSet
    /// Bumped by every token write; the tokens are sealed for it (TokenVault's associated data).
    public var generation: Int64
    public var lastRefreshAt: Date?
}

/// What ``PostgresTokenRepository/refreshUnderLock(org:seenGeneration:now:_:)`` did.
public enum RefreshOutcome: Sendable {
    /// This call refreshed: the closure ran and its pair is committed, at the new generation.
    case refreshed(StoredGrant)
    /// Another caller (here or on another instance) refreshed since `seenGeneration`: the closure
    /// did not run; this is the grant it committed.
    case alreadyRefreshed(StoredGrant)

    public var grant: StoredGrant {
        switch self {
        case .refreshed(let grant), .alreadyRefreshed(let grant): grant
        }
    }
}

/// The org has no grant to refresh (never connected, disconnected, or waiting to reconnect).
public struct GrantNotConnected: Error, Sendable, CustomStringConvertible {
    public var org: OrgID
    public var description: String { "\(org) holds no connected grant" }
}
