import Synchronization
import QBSyncCore
import QBSyncStore

/// Token pairs Intuit issued that the store could not record yet (F2).
///
/// Intuit rotates refresh tokens, and refuses a superseded one for good. So a pair whose commit
/// failed is kept here, used for every call (never the older stored pair), and committed again
/// before the next refresh asks Intuit for anything. A pair is kept over the stored generation it
/// replaces: once the stored row moves on (a reconnection, a disconnection), it is dropped.
final class UncommittedTokens: Sendable {
    private struct Kept {
        var connection: Connection
        var baseGeneration: Int64
    }

    private let kept = Mutex<[OrgID: Kept]>([:])

    /// Keeps the pair that refreshed `base`, until it is committed.
    func keep(_ connection: Connection, over base: Connection) {
        kept.withLock { $0[connection.org] = Kept(connection: connection, baseGeneration: base.generation) }
    }

    /// The newer pair known for the org's stored connection, if one waits to be committed.
    func newer(than stored: Connection) -> Connection? {
        kept.withLock { kept in
            guard let entry = kept[stored.org] else { return nil }
            guard entry.baseGeneration == stored.generation else {
                kept[stored.org] = nil
                return nil
            }
            return entry.connection
        }
    }

    /// The pair was committed (or the org's tokens were replaced): forget it.
    func forget(_ org: OrgID) {
        _ = kept.withLock { $0.removeValue(forKey: org) }
    }
}
