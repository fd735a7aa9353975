import ArgumentParser
import QBControlClient
import QBSyncCore

extension Qbctl {
    /// `qbctl events`: `event.list`, every page (or `--limit` rows), newest first.
    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the webhook event log, newest first.")

        @OptionGroup var options: GlobalOptions
        @OptionGroup var paging: PagingOptions
        @Option(help: "Only this organisation's events.") var org: String?
        @Option(help: "Only events with this status.") var status: EventStatus?

        enum EventStatus: String, ExpressibleByArgument, CaseIterable { case pending, processed, failed, ignored }

        func run() async throws {
            let params = EventListCall.Params(org: try org.map { name throws(QbctlFailure) in try options.org(name) }, status: status?.rawValue)
            let result = try await Pager.collect(options, EventListCall.self, params, key: "events", limit: paging.limit, pageSize: paging.pageSize)
            options.present(result, human: Self.table)
        }

        static func table(_ result: JSONValue) -> String {
            let events = result["events"]?.arrayValue ?? []
            if events.isEmpty { return "no events" }
            return Table.render(
                events.map { event in
                    [
                        Records.text(event["id"]), Records.text(event["receivedAt"]), Records.text(event["org"]), Records.text(event["type"]),
                        "\(Records.text(event["entityName"])) \(Records.text(event["entityId"]))", Badge.paint(event["status"]?.stringValue),
                        Records.text(event["attempts"]), Records.text(event["processError"]),
                    ]
                },
                header: ["ID", "RECEIVED", "ORG", "TYPE", "ENTITY", "STATUS", "ATTEMPTS", "ERROR"]
            )
        }
    }

    /// `qbctl event …`: one webhook event.
    struct Event: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One webhook event.", subcommands: [Retry.self])

        /// `qbctl event retry ID`: `event.retry`.
        struct Retry: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Process a webhook event again now, and show how it settled.")
            @OptionGroup var options: GlobalOptions
            @Argument(help: "The event's id (from 'qbctl events').") var id: Int64

            func run() async throws {
                options.present(try await options.call(EventRetryCall.self, .init(id: id)).json, human: Records.event)
            }
        }
    }
}
