import ArgumentParser
import Foundation
import QBControlClient
import QBSyncCore

/// `qbctl`: the operator's client for the control socket.
///
/// Exit status (spec/runtime.md): 0 ok, 1 the daemon answered with an error, 2 usage error,
/// 3 the daemon could not be reached. swift-argument-parser exits 64 on usage errors, so `main`
/// is ours.
@main
struct Qbctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qbctl",
        abstract: "Control qbsyncd over its Unix socket.",
        version: QBSyncVersion.current,
        subcommands: [Status.self, Org.self, Connect.self, Token.self, Quota.self, Call.self, Watch.self]
    )

    static func main() async {
        do {
            var command = try parseAsRoot()
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

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "The control socket (default: $QBSYNCD_CONTROL_SOCKET, then /run/qbsyncd/control.sock).")
    var socket: String?

    @Flag(name: .long, help: "Print the daemon's JSON result instead of a table.")
    var json = false

    var socketPath: String {
        socket ?? ProcessInfo.processInfo.environment["QBSYNCD_CONTROL_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "/run/qbsyncd/control.sock"
    }

    /// Connects, calls one method, and maps failures to qbctl's exit statuses.
    func call(_ method: String, params: JSONValue? = nil) async throws(QbctlFailure) -> JSONValue {
        let client: ControlClient
        do {
            client = try await ControlClient.connect(path: socketPath)
        } catch {
            throw QbctlFailure(error)
        }
        defer { Task { await client.close() } }
        do {
            return try await client.call(method, params: params)
        } catch {
            throw QbctlFailure(error)
        }
    }

    /// Prints the result as JSON (`--json`) or through `human`.
    func present(_ result: JSONValue, human: (JSONValue) -> String) {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: (try? encoder.encode(result)) ?? Data("null".utf8), as: UTF8.self))
        } else {
            print(human(result))
        }
    }
}

/// A failure with qbctl's exit status.
struct QbctlFailure: Error {
    var message: String
    var exitCode: Int32

    init(message: String, exitCode: Int32) {
        self.message = message
        self.exitCode = exitCode
    }

    init(_ error: ControlClientError) {
        switch error.kind {
        case .unreachable:
            message = error.message
            exitCode = 3
        case .rpc(let rpc):
            message = "\(rpc.message) (\(rpc.reason ?? "error"))"
            exitCode = 1
        case .connection:
            message = error.message
            exitCode = 3
        }
    }
}
