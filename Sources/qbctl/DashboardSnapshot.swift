import Foundation
import QBControlClient
import QBSyncCore

/// What the dashboard shows, as the daemon last answered it: the four sections of the app's
/// integration page. Rendering (``DashboardRenderer``) reads only this.
struct DashboardSnapshot: Sendable {
    var org: String
    /// `org.show`.
    var connection: JSONValue?
    /// The one `org.test` made when the dashboard started, when, or why it failed.
    var test: JSONValue?
    var testedAt: Date?
    var testError: String?
    /// `sync.summary`.
    var summary: JSONValue?
    /// `daemon.status`.quota, then `quota.show` as it changes.
    var quota: JSONValue?
    /// `entity.list` (one page) and whether more exist.
    var entities: [JSONValue] = []
    var moreEntities = false
    /// `event.list` for the org, newest first (one page).
    var events: [JSONValue] = []
    var moreEvents = false
    var updatedAt = Date()
    /// A failure to show at the bottom (a refetch refused, the daemon gone).
    var notice: String?
}

/// The sections a notification makes stale.
struct DashboardSections: OptionSet, Sendable {
    let rawValue: Int
    static let connection = DashboardSections(rawValue: 1)
    static let summary = DashboardSections(rawValue: 2)
    static let quota = DashboardSections(rawValue: 4)
    static let entities = DashboardSections(rawValue: 8)
    static let events = DashboardSections(rawValue: 16)
    static let all: DashboardSections = [.connection, .summary, .quota, .entities, .events]

    /// What to fetch again after a notification of this topic.
    static func stale(after topic: String) -> DashboardSections {
        switch topic {
        case "invoice.status_changed": [.entities, .summary]
        case "connection.status_changed", "connection.reconnect_due": [.connection]
        // Processing an event reads QuickBooks (the month's reads) and may change entities.
        case "webhook.event": [.events, .entities, .summary, .quota]
        case "quota.status_changed": [.quota, .summary]
        case "mapping.drift": [.entities]
        default: []
        }
    }
}

/// Fetches a snapshot's sections over one control connection.
struct DashboardSource: Sendable {
    let client: ControlClient
    let org: OrgID
    /// Rows of entities and events to ask for: more than any screen shows.
    static let rows = 200

    /// The first frame's data, with the one `org.test` of the connection section.
    func initial() async -> DashboardSnapshot {
        var snapshot = DashboardSnapshot(org: org.rawValue)
        snapshot.testedAt = Date()
        do {
            snapshot.test = try await client.answer(OrgTestCall.self, OrgParams(org: org)).json
        } catch {
            snapshot.testError = error.message
        }
        if let quota = try? await client.answer(DaemonStatusCall.self, NoParams()).json["quota"] { snapshot.quota = quota }  // try?: the quota section refetches on its next notification
        await refresh(&snapshot, DashboardSections.all.subtracting(.quota))
        return snapshot
    }

    /// Fetches `sections` again into `snapshot`; a refusal is shown as the notice, the old data kept.
    func refresh(_ snapshot: inout DashboardSnapshot, _ sections: DashboardSections) async {
        var failures: [String] = []
        func fetch<C: ControlCall>(_ call: C.Type, _ params: C.Params) async -> JSONValue? {
            do {
                return try await client.answer(call, params).json
            } catch {
                failures.append("\(C.method): \(error.message)")
                return nil
            }
        }
        if sections.contains(.connection), let info = await fetch(OrgShowCall.self, OrgParams(org: org)) { snapshot.connection = info }
        if sections.contains(.summary), let summary = await fetch(SyncSummaryCall.self, OrgParams(org: org)) { snapshot.summary = summary }
        if sections.contains(.quota), let quota = await fetch(QuotaShowCall.self, NoParams()) { snapshot.quota = quota }
        if sections.contains(.entities), let page = await fetch(EntityListCall.self, .init(org: org, limit: Self.rows)) {
            snapshot.entities = page["entities"]?.arrayValue ?? []
            snapshot.moreEntities = page["nextCursor"]?.stringValue != nil
        }
        if sections.contains(.events), let page = await fetch(EventListCall.self, .init(org: org, limit: Self.rows)) {
            snapshot.events = page["events"]?.arrayValue ?? []
            snapshot.moreEvents = page["nextCursor"]?.stringValue != nil
        }
        snapshot.updatedAt = Date()
        snapshot.notice = failures.isEmpty ? nil : failures.joined(separator: "; ")
    }
}
