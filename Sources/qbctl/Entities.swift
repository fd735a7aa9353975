import ArgumentParser
import QBControlClient
import QBSyncCore

extension Qbctl {
    /// `qbctl entities ORG`: `entity.list`, every page.
    struct Entities: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List an organisation's synced customers and invoices, oldest first.")

        @OptionGroup var options: GlobalOptions
        @OptionGroup var paging: PagingOptions
        @Argument(help: "The organisation id.") var org: String
        @Option(help: "Only developments (customers) or demands (invoices).") var kind: Kind?
        @Option(help: "Only entities with this status.") var status: EntityStatus?

        enum Kind: String, ExpressibleByArgument, CaseIterable { case development, demand }
        enum EntityStatus: String, ExpressibleByArgument, CaseIterable {
            case synced = "Synced", outstanding = "Outstanding", paid = "Paid", overdue = "Overdue", voided = "Voided"
        }

        func run() async throws {
            let params = EntityListCall.Params(
                org: try options.org(org), kind: kind.flatMap { MappingKind(rawValue: $0.rawValue) }, status: status.flatMap { QBSyncCore.EntityStatus(rawValue: $0.rawValue) }
            )
            let result = try await Pager.collect(options, EntityListCall.self, params, key: "entities", limit: paging.limit, pageSize: paging.pageSize)
            options.present(result, human: Self.table)
        }

        static func table(_ result: JSONValue) -> String {
            let entities = result["entities"]?.arrayValue ?? []
            if entities.isEmpty { return "no synced entities" }
            return Table.render(
                entities.map { entity in
                    [
                        Records.text(entity["kind"]), Records.text(entity["localId"]), "\(Records.text(entity["qboType"])) \(Records.text(entity["qboId"]))",
                        Records.text(entity["docNumber"]), Badge.paint(entity["status"]?.stringValue), Records.text(entity["totalAmount"]),
                        Records.text(entity["balance"]), Records.text(entity["dueDate"]), Records.text(entity["lastSyncedAt"]),
                        Records.drift(entity["drift"]) ?? Records.text(entity["lastError"]),
                    ]
                },
                header: ["KIND", "ID", "QUICKBOOKS", "NUMBER", "STATUS", "TOTAL", "BALANCE", "DUE", "LAST SYNCED", "NOTE"]
            )
        }
    }

    /// `qbctl summary ORG`: `sync.summary`.
    struct Summary: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Count an organisation's customers and invoices by status, and this month's reads.")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The organisation id.") var org: String

        func run() async throws {
            let result = try await options.call(SyncSummaryCall.self, OrgParams(org: options.org(org))).json
            options.present(result) { summary in
                let invoices = summary["invoices"]
                let statuses = ["Outstanding", "Paid", "Overdue", "Voided"].map { ["  " + Badge.paint($0), Records.text(invoices?[$0])] }
                let reads = summary["reads"]
                return Table.render(
                    [["customers", Records.text(summary["customers"])], ["invoices", Records.text(invoices?["total"])]] + statuses
                        + [["reads", "\(Records.text(reads?["count"])) this month (\(Records.text(reads?["month"])))"]],
                    header: nil
                )
            }
        }
    }
}
