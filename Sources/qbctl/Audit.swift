import ArgumentParser
import Foundation
import QBSyncCore

extension Qbctl {
    /// `qbctl audit …`: checks of the stored state against the immutable history.
    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check stored state against the immutable history.", subcommands: [Verify.self])
    }
}

extension Qbctl.Audit {
    /// `qbctl audit verify [ORG]`: `audit.verify`. Exit status 1 when any status differs.
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rebuild every invoice status from the history and list those that differ from the stored one.",
            discussion: """
                Exit status: 0 when every rebuilt status matches, 1 when any differs (the table or --json is \
                printed either way), 2 usage error, 3 the daemon could not be reached. \
                'qbctl invoice explain ORG DEMAND' shows the history behind one of them.
                """
        )
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Only this organisation (default: every one).") var org: String?

        func run() async throws {
            var params: [String: JSONValue] = [:]
            if let org { params["org"] = .string(org) }
            let result = try await options.call("audit.verify", params: .object(params))
            options.present(result, human: Self.human)
            let mismatches = result["mismatches"]?.arrayValue?.count ?? 0
            if mismatches > 0 {
                throw QbctlFailure(message: "\(mismatches) stored invoice status\(mismatches == 1 ? "" : "es") differ\(mismatches == 1 ? "s" : "") from the history", exitCode: 1)
            }
        }

        static func human(_ result: JSONValue) -> String {
            let checked = result["checked"]?.intValue ?? 0
            let mismatches = result["mismatches"]?.arrayValue ?? []
            let line = "checked \(checked) invoice\(checked == 1 ? "" : "s"): " + (mismatches.isEmpty ? "every stored status matches its history" : "\(mismatches.count) differ")
            guard !mismatches.isEmpty else { return line }
            let rows = mismatches.map { mismatch in
                [
                    Records.text(mismatch["org"]), Records.text(mismatch["demandId"]), Badge.paint(mismatch["stored"]?.stringValue),
                    Badge.paint(mismatch["rebuilt"]?.stringValue), Records.text(mismatch["rule"]),
                ]
            }
            return line + "\n\n" + Table.render(rows, header: ["ORG", "DEMAND", "STORED", "REBUILT", "RULE"])
        }
    }
}
