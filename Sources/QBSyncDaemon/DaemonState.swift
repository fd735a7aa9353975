import Foundation
import QBSyncCore
import QBSyncStore
import Synchronization

/// The daemon's small, hot, shared state: the settings in force, the access policy derived from
/// them, and the counters `daemon.status` reports. Read on every control call, so it lives behind a
/// `Mutex` rather than in the database.
final class DaemonState: Sendable {
    struct ReloadRecord: Sendable {
        /// RFC 3339, formatted once per reload: `daemon.status` is the hottest call.
        var loadedAt: String
        var reloads: Int
        var lastError: String?
    }

    private struct Storage {
        var settings: Settings
        var accessPolicy: AccessPolicy
        var orgCounts: OrgStatusCounts
        var reload: ReloadRecord
        var controlConnections = 0
        var webhooksAccepted = 0
        var webhooksRejected = 0
        var eventsPending = 0
        var eventsFailed = 0
        var webhookListen: String?
        var reconciled = (changes: 0, missed: 0)
        var oldestPendingEvent: Date?
        var webhookEventsUnparsed = 0
        var webhookDuplicates = 0
    }

    let startedAt: Date
    /// RFC 3339, formatted once.
    let startedAtText: String
    private let storage: Mutex<Storage>

    init(settings: Settings, orgCounts: OrgStatusCounts, startedAt: Date = Date()) {
        self.startedAt = startedAt
        startedAtText = Timestamp.string(startedAt)
        storage = Mutex(
            Storage(
                settings: settings, accessPolicy: AccessPolicy.resolve(settings: settings), orgCounts: orgCounts,
                reload: ReloadRecord(loadedAt: Timestamp.string(startedAt), reloads: 0, lastError: nil)
            )
        )
    }

    var settings: Settings { storage.withLock { $0.settings } }
    var accessPolicy: AccessPolicy { storage.withLock { $0.accessPolicy } }
    var orgCounts: OrgStatusCounts { storage.withLock { $0.orgCounts } }
    var reload: ReloadRecord { storage.withLock { $0.reload } }
    var controlConnections: Int { storage.withLock { $0.controlConnections } }

    /// Puts reloaded settings in force.
    func apply(_ settings: Settings, at date: Date = Date()) {
        let policy = AccessPolicy.resolve(settings: settings)
        let loadedAt = Timestamp.string(date)
        storage.withLock {
            $0.settings = settings
            $0.accessPolicy = policy
            $0.reload.loadedAt = loadedAt
            $0.reload.reloads += 1
            $0.reload.lastError = nil
        }
    }

    /// Records a reload that was refused; the old settings stay.
    func recordRejectedReload(_ problems: SettingsProblems) {
        storage.withLock { $0.reload.lastError = problems.description }
    }

    func updateOrgCounts(_ counts: OrgStatusCounts) {
        storage.withLock { $0.orgCounts = counts }
    }

    var webhookCounters: (accepted: Int, rejected: Int) { storage.withLock { ($0.webhooksAccepted, $0.webhooksRejected) } }
    var eventCounts: (pending: Int, failed: Int) { storage.withLock { ($0.eventsPending, $0.eventsFailed) } }
    /// The listener's real address (the setting may ask for port 0).
    var webhookListen: String? {
        get { storage.withLock { $0.webhookListen } }
        set { storage.withLock { $0.webhookListen = newValue } }
    }

    var reconciled: (changes: Int, missed: Int) {
        get { storage.withLock { $0.reconciled } }
        set { storage.withLock { $0.reconciled = newValue } }
    }

    /// When the oldest pending webhook event arrived (nil: none pending).
    var oldestPendingEvent: Date? {
        get { storage.withLock { $0.oldestPendingEvent } }
        set { storage.withLock { $0.oldestPendingEvent = newValue } }
    }

    /// Events of signed deliveries that could not be parsed (stored as failed), since start.
    var webhookEventsUnparsed: Int { storage.withLock { $0.webhookEventsUnparsed } }
    func webhookEventsUnparsed(add count: Int) { storage.withLock { $0.webhookEventsUnparsed += count } }

    /// Accepted deliveries that repeated a stored one and were not stored again (F10), since start.
    var webhookDuplicates: Int { storage.withLock { $0.webhookDuplicates } }
    func webhookDuplicate() { storage.withLock { $0.webhookDuplicates += 1 } }

    func webhookAccepted() { storage.withLock { $0.webhooksAccepted += 1 } }
    func webhookRejected() { storage.withLock { $0.webhooksRejected += 1 } }
    func updateEventCounts(pending: Int, failed: Int) {
        storage.withLock {
            $0.eventsPending = pending
            $0.eventsFailed = failed
        }
    }

    func connectionOpened() { storage.withLock { $0.controlConnections += 1 } }
    func connectionClosed() { storage.withLock { $0.controlConnections -= 1 } }
}
