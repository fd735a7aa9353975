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
            ?? SettingDefaults.controlSocket
    }

    /// Connects to the daemon (exit 3 when it cannot be reached).
    func connect() async throws(QbctlFailure) -> ControlClient {
        do {
            return try await ControlClient.connect(path: socketPath)
        } catch {
            throw QbctlFailure(error)
        }
    }

    /// Connects, makes one typed call, and maps failures to qbctl's exit statuses. The answer keeps
    /// the daemon's JSON, which `--json` prints as it came.
    func call<C: ControlCall>(_ call: C.Type, _ params: C.Params) async throws(QbctlFailure) -> ControlAnswer<C.Result> {
        let client = try await connect()
        defer { Task { await client.close() } }
        return try await self.call(client, call, params)
    }

    /// A method without params.
    func call<C: ControlCall>(_ call: C.Type) async throws(QbctlFailure) -> ControlAnswer<C.Result> where C.Params == NoParams {
        try await self.call(call, NoParams())
    }

    /// One typed call on an open connection.
    func call<C: ControlCall>(_ client: ControlClient, _ call: C.Type, _ params: C.Params) async throws(QbctlFailure) -> ControlAnswer<C.Result> {
        do {
            return try await client.answer(call, params)
        } catch {
            throw QbctlFailure(error)
        }
    }

    /// `qbctl call`: any method, untyped.
    func callRaw(_ method: String, params: JSONValue?) async throws(QbctlFailure) -> JSONValue {
        let client = try await connect()
        defer { Task { await client.close() } }
        do {
            return try await client.call(method, params: params)
        } catch {
            throw QbctlFailure(error)
        }
    }

    /// Reads a call's params from what the user typed (flags, `--file`) with the daemon's own params
    /// decoder, so a bad field is refused in the daemon's words (`invalid_params`, exit 1) before any call.
    func params<P: Decodable>(_ type: P.Type, _ value: JSONValue) throws(QbctlFailure) -> P {
        let line: Data
        do {
            line = try JSONEncoder().encode(JSONValue.object(["params": value]))
        } catch {
            throw QbctlFailure(message: "cannot encode the params: \(error)", exitCode: 2)
        }
        do {
            return try RPCParamsDecoder.decode(P.self, from: line, hasParams: true)
        } catch {
            let rpc = error.rpcError
            throw QbctlFailure(ControlClientError(.rpc(rpc), rpc.message))
        }
    }

    /// An organisation id typed by the user, refused as the daemon would refuse it.
    func org(_ text: String) throws(QbctlFailure) -> OrgID {
        try params(OrgParams.self, ["org": .string(text)]).org
    }

    /// Prints the result as JSON (`--json`) or through `human`.
    func present(_ result: JSONValue, human: (JSONValue) -> String) {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: (try? encoder.encode(result)) ?? Data("null".utf8), as: UTF8.self))  // try?: a JSONValue always encodes
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
