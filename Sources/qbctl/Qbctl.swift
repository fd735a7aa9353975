import ArgumentParser
import Foundation
import QBSyncCore

/// `qbctl`: the operator's client for the control socket.
///
/// Exit status (spec/runtime.md): 0 ok, 1 the daemon answered with an error, 2 usage error,
/// 3 the daemon could not be reached. swift-argument-parser exits 64 on usage errors, so `main`
/// is ours; it also lets `--socket` and `--json` come before the subcommand (``GlobalArguments``).
@main
struct Qbctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qbctl",
        abstract: "Control qbsyncd over its Unix socket.",
        discussion: """
            Every command takes --socket PATH (default $QBSYNCD_CONTROL_SOCKET, then /run/qbsyncd/control.sock) \
            and --json (the daemon's JSON result instead of a table), before or after the command. \
            Exit status: 0 ok, 1 the daemon answered with an error, 2 usage error, 3 the daemon could not be reached.
            """,
        version: QBSyncVersion.current,
        subcommands: [
            Status.self, Org.self, Connect.self, Token.self, Customer.self, Invoice.self, Entities.self, Summary.self, Events.self,
            Event.self, Audit.self, Log.self, Quota.self, Dashboard.self, Watch.self, Completion.self, Call.self,
        ]
    )

    static func main() async {
        do {
            var command = try parseAsRoot(GlobalArguments.hoisted(Array(CommandLine.arguments.dropFirst())))
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            Foundation.exit(0)
        } catch let failure as QbctlFailure {
            FileHandle.standardError.write(Data("qbctl: \(failure.message)\n".utf8))
            Foundation.exit(failure.exitCode)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(2)
        }
    }
}
