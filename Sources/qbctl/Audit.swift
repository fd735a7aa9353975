import ArgumentParser
import Foundation
import QBControlClient
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
                Exit status: 0 when every rebuilt status matches, 1 when any differs or a webhook log archive \
                differs from its record (the table or --json is \
                printed either way), 2 usage error, 3 the daemon could not be reached. \
                'qbctl invoice explain ORG DEMAND' shows the history behind one of them.
                """
        )
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Only this organisation (default: every one).") var org: String?

        func run() async throws {
            let params = AuditVerifyCall.Params(org: try org.map { name throws(QbctlFailure) in try options.org(name) })
            let answer = try await options.call(AuditVerifyCall.self, params)
            options.present(answer.json, human: Self.human)
            let mismatches = answer.result.mismatches.count
            let archives = answer.result.archives.mismatched.count
            if archives > 0 {
                throw QbctlFailure(message: "\(archives) webhook log archive\(archives == 1 ? "" : "s") differ\(archives == 1 ? "s" : "") from the record", exitCode: 1)
            }
            if mismatches > 0 {
                throw QbctlFailure(message: "\(mismatches) stored invoice status\(mismatches == 1 ? "" : "es") differ\(mismatches == 1 ? "s" : "") from the history", exitCode: 1)
            }
        }

        static func human(_ result: JSONValue) -> String {
            let checked = result["checked"]?.intValue ?? 0
            let mismatches = result["mismatches"]?.arrayValue ?? []
            var line = "checked \(checked) invoice\(checked == 1 ? "" : "s"): " + (mismatches.isEmpty ? "every stored status matches its history" : "\(mismatches.count) differ")
            if let archives = result["archives"], let count = archives["checked"]?.intValue, count > 0 {
                let missing = archives["missing"]?.arrayValue?.count ?? 0
                let bad = archives["mismatched"]?.arrayValue ?? []
                line += "\nchecked \(count) log archive\(count == 1 ? "" : "s"): \(archives["verified"]?.intValue ?? 0) verified"
                    + (missing > 0 ? ", \(missing) not in the archive directory" : "") + (bad.isEmpty ? "" : ", \(bad.count) DIFFER from the record")
                for archive in bad { line += "\n  \(Records.text(archive["file"])): \(Records.text(archive["reason"]))" }
            }
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
