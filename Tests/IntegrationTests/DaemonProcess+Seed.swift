import QBSyncCore
import QBTestSupport

extension DaemonProcess {
    /// Organisations the store knows before the daemon starts (disconnected, as the app leaves them).
    func seed(orgs: [String]) async throws {
        try await TestStore.with(self) { store in
            for org in orgs { try await store.orgs.ensure(OrgID(org)!) }
        }
    }
}
