import ArgumentParser
import Foundation
import QBControlClient
import QBSyncCore

/// Options every command takes, before or after its name (``GlobalArguments``).
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "The control socket (default: $QBSYNCD_CONTROL_SOCKET, then /run/qbsyncd/control.sock).")
    var socket: String?

    @Flag(name: .long, help: "Print the daemon's JSON result instead of a table.")
    var json = false

    var socketPath: String {
        socket ?? ProcessInfo.processInfo.environment["QBSYNCD_CONTROL_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "/run/qbsyncd/control.sock"
    }

    /// Connects to the daemon (exit 3 when it cannot be reached).
    func connect() async throws(QbctlFailure) -> ControlClient {
        do {
            return try await ControlClient.connect(path: socketPath)
        } catch {
            throw QbctlFailure(error)
        }
    }

    /// Connects, calls one method, and maps failures to qbctl's exit statuses.
    func call(_ method: String, params: JSONValue? = nil) async throws(QbctlFailure) -> JSONValue {
        let client = try await connect()
        defer { Task { await client.close() } }
        return try await call(client, method, params: params)
    }

    /// One call on an open connection.
    func call(_ client: ControlClient, _ method: String, params: JSONValue?) async throws(QbctlFailure) -> JSONValue {
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
            message = "\(rpc.message) (\(rpc.reason ?? "error"))" + Self.detail(rpc.data)
            exitCode = 1
        case .connection:
            message = error.message
            exitCode = 3
        }
    }

    /// The edits behind a `conflict`, one per line.
    private static func detail(_ data: JSONValue) -> String {
        guard let changes = data["changes"]?.arrayValue, !changes.isEmpty else { return "" }
        let lines = changes.map { "\n  \(Records.text($0["field"])): pushed \(Records.text($0["pushed"])), now \(Records.text($0["now"]))" }
        return lines.joined() + "\n  (--force overwrites the edit made in QuickBooks)"
    }
}
