import Foundation
import Testing
@testable import QBSyncCore

@Suite struct JSONOutputTests {
    func status(missing: [String], path: String, error: String?) -> DaemonStatus {
        DaemonStatus(
            version: "0.1.0", startedAt: "2026-11-25T10:00:00Z", uptimeSeconds: 42,
            integration: .init(enabled: missing.isEmpty, missing: missing, environment: "sandbox"),
            orgs: .init(total: 3, connected: 2, needsReauthorization: 1),
            webhook: .init(listen: "[::1]:8731", accepted: 7, rejected: 1, reconciledChanges: 3, missedByWebhooks: 1), events: .init(pending: 4, failed: 5),
            config: .init(path: path, loadedAt: "2026-11-25T10:00:01Z", reloads: 2, lastReloadError: error),
            controlConnections: 9, subscribers: 8,
            quota: QuotaStatus(
                month: "2026-11", used: 400_123, budget: 500_000, reserve: 25_000, forecast: 512_000, state: "warning", resetsAt: "2026-12-01T00:00:00Z",
                byClass: .init(sweep: 100_000, event: 300_000, operator: 123), sweepPeriodSeconds: error == nil ? 86_400 : nil, sweepStretch: 1.25
            ),
            pipeline: PipelineStatus(realmsActive: 3, eventsQueued: 17, oldestPendingSeconds: 4, realmsWaiting: 2)
        )
    }

    @Test(arguments: [
        (["QUICKBOOKS_CLIENT_ID"], "/etc/qbsyncd/qbsyncd.conf", nil),
        ([], "/tmp/with \"quotes\" and \\ back", "line 1: bad\nline 2: tab\there \u{01} ctl, é ü 日本"),
    ] as [([String], String, String?)])
    func daemonStatusWritesWhatJSONEncoderWrites(missing: [String], path: String, error: String?) throws {
        let value = status(missing: missing, path: path, error: error)
        var output = JSONOutput()
        value.write(to: &output)
        let fast = try JSONDecoder().decode(JSONValue.self, from: Data(output.bytes))
        let reference = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
        #expect(fast == reference)
        #expect(try JSONDecoder().decode(DaemonStatus.self, from: Data(output.bytes)) == value)
    }
}
