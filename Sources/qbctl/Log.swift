import ArgumentParser
import QBControlClient
import QBSyncCore

extension Qbctl {
    /// `qbctl log …`: the webhook log's retention (docs/log-retention.md).
    struct Log: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Archive old webhook deliveries out of the append-only log, and list the archives.", subcommands: [Archive.self, Archives.self]
        )
    }
}

extension Qbctl.Log {
    /// `qbctl log archive --older-than DAYS`: `log.archive`.
    struct Archive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move settled webhook deliveries older than DAYS, with their events, into hash-chained archive files.",
            discussion: """
                The only way rows leave the append-only log. Deliveries with a pending event, and every one \
                after it, stay. The files go to the state directory's archives/ (mode 0600): they hold \
                QuickBooks ids and payloads. 'qbctl audit verify' checks them. Needs the control group.
                """
        )
        @OptionGroup var options: GlobalOptions
        @Option(name: .customLong("older-than"), help: ArgumentHelp("Archive deliveries received more than this many days ago.", valueName: "DAYS"))
        var olderThan: Int

        func validate() throws {
            guard olderThan >= 0 else { throw ValidationError("--older-than must be 0 or more days") }
        }

        func run() async throws {
            let result = try await options.call(LogArchiveCall.self, .init(olderThanDays: olderThan))
            options.present(result.json, human: Self.human)
        }

        static func human(_ result: JSONValue) -> String {
            let archives = result["archives"]?.arrayValue ?? []
            guard !archives.isEmpty else { return "nothing to archive: no settled delivery is that old" }
            let line = "archived \(Records.text(result["deliveries"])) deliveries and \(Records.text(result["events"])) events into \(archives.count) file\(archives.count == 1 ? "" : "s")"
            return line + "\n\n" + Archives.table(archives)
        }
    }

    /// `qbctl log archives`: `log.archives`.
    struct Archives: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the webhook log's archives, oldest first.")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            options.present(try await options.call(LogArchivesCall.self).json, human: Self.human)
        }

        static func human(_ result: JSONValue) -> String {
            let archives = result["archives"]?.arrayValue ?? []
            guard !archives.isEmpty else { return "no archives" }
            return "in \(Records.text(result["directory"])):\n\n" + table(archives)
        }

        static func table(_ archives: [JSONValue]) -> String {
            Table.render(
                archives.map { archive in
                    [
                        Records.text(archive["id"]), Records.text(archive["createdAt"]), Records.text(archive["receivedBefore"]),
                        "\(Records.text(archive["firstDeliveryId"]))–\(Records.text(archive["lastDeliveryId"]))", Records.text(archive["deliveries"]),
                        Records.text(archive["events"]), Records.text(archive["file"]), String((archive["sha256"]?.stringValue ?? "").prefix(16)),
                    ]
                },
                header: ["ID", "CREATED", "BEFORE", "DELIVERIES", "COUNT", "EVENTS", "FILE", "SHA-256"]
            )
        }
    }
}
