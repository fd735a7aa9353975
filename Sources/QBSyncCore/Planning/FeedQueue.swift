public import Foundation

/// Which companies' change feeds are read next: the per-company pipeline's decisions, with the
/// clock passed in.
///
/// Webhook events of one company that arrive within `window` of its first pending one are served
/// by one read. One read per company runs at a time, so its events are handled in order; at most
/// `concurrency` companies run at once, so one slow company never holds up another. A company
/// whose read failed waits until its retry time; a due sweep runs as soon as a slot is free.
public struct FeedQueue: Sendable {
    public struct Entry: Sendable, Equatable {
        /// The first event not yet served by a read (nil: none waiting).
        public var pendingSince: Date?
        /// A sweep was asked for.
        public var sweep = false
        public var running = false
        /// After a failure: nothing before this.
        public var notBefore: Date?
    }

    /// A read to start now.
    public struct Work: Sendable, Equatable {
        public var realmID: String
        /// `.event` when events wait (they pay for it), `.sweep` otherwise.
        public var readClass: ReadClass
        public init(realmID: String, readClass: ReadClass) {
            self.realmID = realmID
            self.readClass = readClass
        }
    }

    public var window: TimeInterval
    public var concurrency: Int
    public private(set) var entries: [String: Entry] = [:]
    public private(set) var running = 0

    public init(window: TimeInterval, concurrency: Int) {
        self.window = window
        self.concurrency = max(1, concurrency)
    }

    public mutating func eventsArrived(realmID: String, at date: Date) {
        var entry = entries[realmID] ?? Entry()
        if entry.pendingSince == nil { entry.pendingSince = date }
        entries[realmID] = entry
    }

    public mutating func sweepDue(realmID: String) {
        entries[realmID, default: Entry()].sweep = true
    }

    /// Events waiting, a sweep asked for, or a read running.
    public func isBusy(_ realmID: String) -> Bool {
        guard let entry = entries[realmID] else { return false }
        return entry.running || entry.pendingSince != nil || entry.sweep
    }

    /// When a company becomes ready, or nil when it has nothing to do.
    func readyAt(_ entry: Entry) -> Date? {
        guard !entry.running else { return nil }
        // A sweep is ready at once; events when their window closes.
        guard var at = entry.sweep ? .distantPast : entry.pendingSince?.addingTimeInterval(window) else { return nil }
        if let notBefore = entry.notBefore { at = max(at, notBefore) }
        return at
    }

    /// Takes the reads to start now, oldest events first, then sweeps, up to the free slots.
    public mutating func take(now: Date) -> [Work] {
        let free = concurrency - running
        guard free > 0 else { return [] }
        let ready = entries.compactMap { realmID, entry -> (String, Entry, Date)? in
            guard let at = readyAt(entry), at <= now else { return nil }
            return (realmID, entry, at)
        }
        .sorted { left, right in
            // Events before sweeps, then the oldest first.
            let l = left.1.pendingSince ?? .distantFuture
            let r = right.1.pendingSince ?? .distantFuture
            return l != r ? l < r : left.0 < right.0
        }
        var work: [Work] = []
        for (realmID, entry, _) in ready.prefix(free) {
            var started = entry
            started.running = true
            let readClass: ReadClass = entry.pendingSince != nil ? .event : .sweep
            started.pendingSince = nil
            started.sweep = false
            entries[realmID] = started
            running += 1
            work.append(Work(realmID: realmID, readClass: readClass))
        }
        return work
    }

    /// A read ended. `nextAt`: when the company's remaining events are due (nil: none remain).
    public mutating func finished(realmID: String, nextAt: Date?) {
        guard var entry = entries[realmID], entry.running else { return }
        entry.running = false
        running -= 1
        entry.notBefore = nextAt
        if let nextAt, entry.pendingSince == nil { entry.pendingSince = nextAt.addingTimeInterval(-window) }
        if entry.pendingSince == nil && !entry.sweep {
            entries.removeValue(forKey: realmID)
        } else {
            entries[realmID] = entry
        }
    }

    /// The earliest time something becomes ready (nil: nothing waits).
    public func nextWake() -> Date? {
        entries.values.compactMap(readyAt).min()
    }

    /// Companies with a read running or waiting.
    public var active: Int { running }
    public var waiting: Int { entries.values.filter { !$0.running && ($0.pendingSince != nil || $0.sweep) }.count }
}
