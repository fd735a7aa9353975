import ArgumentParser
import QBControlClient
import QBSyncCore

extension Qbctl {
    /// `qbctl org …`: organisations and their QuickBooks connections.
    struct Org: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Organisations and their QuickBooks connections.",
            subcommands: [List.self, Show.self, Test.self, Disconnect.self]
        )
    }
}

extension Qbctl.Org {
    /// `qbctl org list`: `org.list`, every page.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every organisation and its connection.")

        @OptionGroup var options: GlobalOptions
        @OptionGroup var paging: PagingOptions
        @Option(help: "Only organisations with this status: connected, disconnected, needs_reauthorization.")
        var status: String?

        func run() async throws {
            var result = try await Pager.collect(options, OrgListCall.self, OrgListCall.Params(status: status), key: "orgs", limit: paging.limit, pageSize: paging.pageSize)
            // A daemon that does not filter by status yet still gets only what was asked for.
            if let status, case .object(var object) = result {
                object["orgs"] = .array((result["orgs"]?.arrayValue ?? []).filter { $0["status"]?.stringValue == status })
                result = .object(object)
            }
            options.present(result, human: Self.table)
        }

        static func table(_ result: JSONValue) -> String {
            let orgs = result["orgs"]?.arrayValue ?? []
            if orgs.isEmpty { return "no organisations" }
            return Table.render(
                orgs.map { org in
                    [
                        Records.text(org["org"]), Badge.paint(org["status"]?.stringValue), Records.text(org["realmId"]), Records.text(org["companyName"]),
                        Records.text(org["accessTokenExpiresAt"]), Records.text(org["reconnectBy"]), Records.text(org["lastError"]),
                    ]
                },
                header: ["ORG", "STATUS", "REALM", "COMPANY", "ACCESS EXPIRES", "RECONNECT BY", "LAST ERROR"]
            )
        }
    }

    /// `qbctl org show ORG`: `org.show`.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one organisation.")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The organisation id.") var org: String

        func run() async throws {
            let result = try await options.call(OrgShowCall.self, OrgParams(org: options.org(org)))
            options.present(result.json) { info in
                let keys = [
                    "org", "realmId", "companyName", "environment", "connectedAt", "accessTokenExpiresAt", "refreshTokenExpiresAt",
                    "lastRefreshAt", "reconnectBy", "lastError",
                ]
                var rows = keys.map { [$0, Records.text(info[$0])] }
                rows.insert(["status", Badge.paint(info["status"]?.stringValue)], at: 1)
                return Table.render(rows, header: nil)
            }
        }
    }
}
