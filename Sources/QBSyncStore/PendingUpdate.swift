public import Foundation
public import QBSyncCore
import Crypto

/// An update sent for an entity whose answer is not stored yet (`qb_entity_mappings.pending_updates`):
/// the names of the fields it set and a SHA-256 of their values, never the values themselves.
///
/// An answer lost to a crash or a dropped connection leaves QuickBooks holding content that the
/// mapping does not record. The next push's stale-SyncToken check, or the next read, then finds
/// that content here and takes it for qbsyncd's own write, not for an edit made in QuickBooks.
public struct PendingUpdate: Sendable, Hashable, Codable {
    /// How many are kept for an entity (the newest).
    public static let kept = 4

    public var fields: [String]
    public var sha256: String

    /// The update that sets `intended`.
    public init(_ intended: PushedFields) {
        fields = intended.values.keys.sorted()
        sha256 = Self.digest(intended, over: fields)
    }

    /// Whether `current` (a record as QuickBooks holds it) holds exactly what this update set.
    public func isHeld(by current: PushedFields) -> Bool {
        fields.allSatisfy { current.values[$0] != nil } && Self.digest(current, over: fields) == sha256
    }

    /// `pending` with `update` appended, the newest ``kept`` of them.
    public static func appending(_ update: PendingUpdate, to pending: [PendingUpdate]) -> [PendingUpdate] {
        Array((pending + [update]).suffix(kept))
    }

    /// The values of `keys` as sorted-key JSON (equal values, equal text), hashed.
    static func digest(_ fields: PushedFields, over keys: [String]) -> String {
        let projected = PushedFields(Dictionary(uniqueKeysWithValues: keys.compactMap { key in fields.values[key].map { (key, $0) } }))
        return SHA256.hash(data: Data((StoredJSON.text(projected) ?? "").utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
