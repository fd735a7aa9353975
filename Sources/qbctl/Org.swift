import ArgumentParser
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
    /// `qbctl org list`: `org.list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every organisation.")

        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let result = try await options.call("org.list")
            options.present(result) { result in
                let orgs = result["orgs"]?.arrayValue ?? []
                if orgs.isEmpty { return "no organisations" }
                return Table.render(
                    orgs.map { org in
                        [
                            org["org"]?.stringValue ?? "?", org["status"]?.stringValue ?? "?", org["realmId"]?.stringValue ?? "-",
                            org["companyName"]?.stringValue ?? "-", org["accessTokenExpiresAt"]?.stringValue ?? "-",
                            org["reconnectBy"]?.stringValue ?? "-", org["lastError"]?.stringValue ?? "-",
                        ]
                    },
                    header: ["ORG", "STATUS", "REALM", "COMPANY", "ACCESS EXPIRES", "RECONNECT BY", "LAST ERROR"]
                )
            }
        }
    }

    /// `qbctl org show ORG`: `org.show`.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one organisation.")

        @OptionGroup var options: GlobalOptions

        @Argument(help: "The organisation id.")
        var org: String

        func run() async throws {
            let result = try await options.call("org.show", params: ["org": .string(org)])
            options.present(result) { info in
                let keys = [
                    "org", "status", "realmId", "companyName", "environment", "connectedAt", "accessTokenExpiresAt",
                    "refreshTokenExpiresAt", "lastRefreshAt", "reconnectBy", "lastError",
                ]
                return Table.render(keys.map { [$0, info[$0]?.stringValue ?? "-"] }, header: nil)
            }
        }
    }
}
