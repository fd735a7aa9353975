import ArgumentParser
import QBControlClient
import QBSyncCore

extension Qbctl {
    /// `qbctl status`: `daemon.status`.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the daemon's status.")

        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let result = try await options.call(DaemonStatusCall.self)
            options.present(result.json) { status in
                func int(_ value: JSONValue?) -> Int64 { value?.intValue ?? 0 }
                let integration = status["integration"]
                let enabled = integration?["enabled"]?.boolValue == true
                let missing = integration?["missing"]?.arrayValue?.compactMap(\.stringValue) ?? []
                let orgs = status["orgs"]
                let webhook = status["webhook"]
                let events = status["events"]
                return Table.render(
                    [
                        ["version", status["version"]?.stringValue ?? "?"],
                        ["up since", "\(status["startedAt"]?.stringValue ?? "?") (\(Table.duration(int(status["uptimeSeconds"]))))"],
                        [
                            "integration",
                            (enabled ? Badge.paint("enabled") : Badge.paint("disabled") + " (missing: \(missing.joined(separator: ", ")))")
                                + ", \(integration?["environment"]?.stringValue ?? "?")",
                        ],
                        [
                            "orgs",
                            "\(int(orgs?["total"])) total, \(int(orgs?["connected"])) connected, \(int(orgs?["needsReauthorization"])) need reauthorization",
                        ],
                        [
                            "webhook",
                            "\(webhook?["listen"]?.stringValue ?? "?"): \(int(webhook?["accepted"])) accepted, \(int(webhook?["rejected"])) rejected",
                        ],
                        ["events", "\(int(events?["pending"])) pending, \(int(events?["failed"])) failed"],
                        ["reads", QuotaText.summary(status["quota"])],
                        [
                            "pipeline",
                            "\(int(status["pipeline"]?["realmsActive"])) companies reading, \(int(status["pipeline"]?["realmsWaiting"])) waiting, "
                                + "oldest event \(Table.duration(int(status["pipeline"]?["oldestPendingSeconds"])))",
                        ],
                    ],
                    header: nil
                )
            }
        }
    }
}
