public import Foundation

/// One row of a change-feed answer, as the pipeline's decisions need it.
public struct FeedChange: Sendable, Equatable {
    public enum Entity: String, Sendable { case invoice = "Invoice", payment = "Payment" }
    public var entity: Entity
    public var id: String
    /// Intuit's `MetaData.LastUpdatedTime` (nil when absent: such a row never moves the watermark).
    public var updatedAt: Date?
    public var deleted: Bool
    public var voided: Bool
    /// A payment's invoices, as its lines link them now (empty once voided or deleted).
    public var linkedInvoices: [String]

    public init(entity: Entity, id: String, updatedAt: Date?, deleted: Bool = false, voided: Bool = false, linkedInvoices: [String] = []) {
        self.entity = entity
        self.id = id
        self.updatedAt = updatedAt
        self.deleted = deleted
        self.voided = voided
        self.linkedInvoices = linkedInvoices
    }
}

/// What a change-feed answer changes: the watermark, the invoices to re-read, whether to read on.
public enum FeedReading {
    /// Intuit's cap on objects in one CDC answer (no paging: narrow `changedSince` instead).
    public static let cap = 1000
    /// Intuit looks back 30 days at most; we ask for a day less.
    public static let lookBack: TimeInterval = 29 * 86_400
    /// Overlap with the previous read: `LastUpdatedTime` has whole seconds, so a change in the same
    /// second as the watermark, made after the read, is asked for again (applying it twice is harmless).
    public static let overlap: TimeInterval = 1

    /// `changedSince` for a read.
    public static func since(watermark: Date, now: Date) -> Date {
        max(watermark.addingTimeInterval(-overlap), now.addingTimeInterval(-lookBack))
    }

    public struct Outcome: Sendable, Equatable {
        /// Where the next read starts.
        public var watermark: Date
        /// The answer held `cap` objects: read again from the new watermark at once.
        public var readAgain: Bool
        /// The answer was full of one instant, so the watermark cannot move by time: the caller
        /// must narrow the read (one entity at a time).
        public var narrow: Bool
        public init(watermark: Date, readAgain: Bool, narrow: Bool) {
            self.watermark = watermark
            self.readAgain = readAgain
            self.narrow = narrow
        }
    }

    /// Moves the watermark only past what the answer holds. A full answer may have been cut inside
    /// its newest second, so then the watermark stops just before that second and the next read
    /// asks for it again.
    public static func outcome(of changes: [FeedChange], watermark: Date) -> Outcome {
        let times = changes.compactMap(\.updatedAt)
        guard let newest = times.max() else { return Outcome(watermark: watermark, readAgain: false, narrow: false) }
        guard changes.count >= cap else { return Outcome(watermark: max(watermark, newest), readAgain: false, narrow: false) }
        let safe = newest.addingTimeInterval(-overlap)
        if safe > watermark { return Outcome(watermark: safe, readAgain: true, narrow: false) }
        return Outcome(watermark: watermark, readAgain: false, narrow: true)
    }

    /// Invoices whose status a payment change may have moved but that the answer does not carry:
    /// a voided or deleted payment no longer lists its invoices, so the links seen earlier say which.
    public static func invoicesToReread(_ changes: [FeedChange], knownLinks: [String: Set<String>]) -> Set<String> {
        let present = Set(changes.filter { $0.entity == .invoice }.map(\.id))
        var affected = Set<String>()
        for change in changes where change.entity == .payment {
            affected.formUnion(change.linkedInvoices)
            if change.deleted || change.voided { affected.formUnion(knownLinks[change.id] ?? []) }
        }
        return affected.subtracting(present)
    }
}

/// How one webhook event is settled.
public enum EventTriage: Sendable, Equatable {
    /// Nothing to read: the reason is recorded (`ignored`).
    case ignore(String)
    /// qbsyncd's own write made this change; its answer was already recorded (no read).
    case ownWrite
    /// The company's change feed settles it.
    case needsFeed

    /// Decides an event from what the store knows.
    /// - Parameters:
    ///   - entityName: `Invoice`, `Payment`, …
    ///   - eventTime: when Intuit says the change happened.
    ///   - duplicateOf: an earlier event with the same change.
    ///   - mapping: for an invoice, whether qbsyncd syncs it and when its last write landed
    ///     (Intuit's `LastUpdatedTime` of the write's answer).
    public static func decide(entityName: String, eventTime: Date?, duplicateOf: Int64?, mapping: (synced: Bool, lastWriteAt: Date?)?) -> EventTriage {
        if let duplicateOf { return .ignore("duplicate of event \(duplicateOf)") }
        switch entityName {
        case "Invoice":
            guard let mapping, mapping.synced else { return .ignore("this invoice was not synced by qbsyncd") }
            // LastUpdatedTime has whole seconds; the event's time may carry fractions of the same second.
            if let eventTime, let lastWrite = mapping.lastWriteAt, eventTime.timeIntervalSince1970.rounded(.down) <= lastWrite.timeIntervalSince1970 {
                return .ownWrite
            }
            return .needsFeed
        case "Payment":
            return .needsFeed
        default:
            return .ignore("\(entityName) changes are not synced by qbsyncd")
        }
    }
}

/// When a failed event is tried again: 2 s, 10 s, 30 s, 2 min, 10 min, 30 min, then hourly; after
/// ``maximumAttempts`` it fails for an operator to retry.
public enum EventRetryPolicy {
    public static let maximumAttempts = 8
    static let delays: [TimeInterval] = [2, 10, 30, 120, 600, 1800, 3600]

    /// nil: give up (the event fails).
    public static func retryAt(attempt: Int, now: Date) -> Date? {
        guard attempt < maximumAttempts else { return nil }
        return now.addingTimeInterval(delays[min(max(attempt, 1) - 1, delays.count - 1)])
    }
}
