import Foundation
import QBSyncCore
import QBSyncStore

/// Tells subscribers that an org's connection status changed, and keeps the status counts of
/// `daemon.status` and `/metrics` current.
struct OrgStatusNotifier: Sendable {
    let orgs: any OrgStore
    let hub: NotificationHub
    let state: DaemonState

    func statusChanged(org: OrgID, from: ConnectionStatus, to: ConnectionStatus, reason: String) async {
        await refreshCounts()
        hub.publish(
            topic: NotificationTopic.connectionStatusChanged, org: org,
            params: ConnectionStatusChanged(org: org.rawValue, from: from.rawValue, to: to.rawValue, reason: reason, at: Timestamp.string(Date()))
        )
    }

    func refreshCounts() async {
        if let counts = try? await orgs.statusCounts() { state.updateOrgCounts(counts) }  // try?: the counts are refreshed again by the next change
    }
}
