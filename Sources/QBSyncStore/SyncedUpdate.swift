public import Foundation
public import QBSyncCore

/// What `recordSynced` decides, the same in both stores, from the entity's row as it was before
/// (nil: none) and the state QBO now holds: whether the state is stored, the fingerprint and drift
/// to store, and what the caller and the invoice history are told.
public struct SyncedUpdate: Sendable {
    /// The row before the write. Only one with a QBO id holds QBO state; any row holds its drift.
    public let row: MappingRecord?
    public let state: SyncedState
    /// The fingerprint to store: a push's fields replace it; a read keeps it.
    public let pushed: PushedFields?
    /// The drift to store (nil: none).
    public let drift: Drift?

    public init(row: MappingRecord?, state: SyncedState, now: Date) {
        self.row = row
        self.state = state
        (pushed, drift) = Self.drift(stored: row?.qboID == state.qboID ? row : nil, state: state, now: now)
    }

    /// The row, when it holds QBO state.
    var stored: MappingRecord? { row?.qboID == nil ? nil : row }

    /// The state is of the QBO record stored.
    var sameRecord: Bool { row?.qboID == state.qboID }

    /// The stored record, when the state is older than it (a lower SyncToken of the same record: a
    /// read that crossed a newer write): the state is not stored and the record comes back as it is.
    public var newerStored: MappingRecord? {
        guard let stored, sameRecord, let old = stored.syncToken.flatMap(Int.init), let new = Int(state.syncToken), new < old else { return nil }
        return stored
    }

    /// The status it had before (nil: no QBO state).
    public var previous: EntityStatus? { stored?.status }

    /// Whether this change found a new or different drift (an edit made in QuickBooks).
    public var driftFound: Bool { drift != nil && drift != row?.drift }

    /// The invoice history row this change appends, for an entity of `kind`: nil but for an invoice
    /// with a note, and for a change-feed row already applied (the feed overlaps its reads).
    public func history(kind: MappingKind) -> (note: HistoryNote, changes: [FieldChange]?)? {
        guard kind == .demand, let note = state.history else { return nil }
        let unchanged = note.kind == .feed && sameRecord && stored?.syncToken == state.syncToken && stored?.status == state.status
        return unchanged ? nil : (note, driftFound ? drift?.changes : nil)
    }

    /// The fingerprint and drift to store: a push's fields replace the fingerprint and resolve any
    /// drift; a read's fields are compared with the fingerprint (a drift keeps the time it was
    /// first seen while it lasts; a read that matches the push again ends it). A read that shows
    /// a pending update's fields is that update landed: its fields replace the fingerprint.
    static func drift(stored: MappingRecord?, state: SyncedState, now: Date) -> (PushedFields?, Drift?) {
        if let pushed = state.pushed { return (pushed, nil) }
        guard let base = stored?.pushed else { return (nil, nil) }
        guard let observed = state.observed else { return (base, stored?.drift) }
        // qbsyncd's own update whose answer was lost: what it set becomes the fingerprint.
        if stored?.pendingUpdates.contains(where: { $0.isHeld(by: observed) }) == true { return (observed, nil) }
        let changes = base.changes(to: observed)
        if changes.isEmpty { return (base, nil) }
        return (base, Drift(detectedAt: stored?.drift?.detectedAt ?? now, changes: changes))
    }
}
