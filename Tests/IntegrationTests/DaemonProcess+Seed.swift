import Logging
import QBSyncCore
import QBSyncStore
import QBTestSupport

extension DaemonProcess {
    /// Organisations the store knows before the daemon starts (disconnected, as the app leaves them).
    func seed(orgs: [String]) async throws {
        let store = try Store.open(stateDirectory: stateDirectory, logger: Logger(label: "test"))
        for org in orgs { try await OrgRepository(store: store).ensure(OrgID(org)!) }
        try store.close()
    }
}
