import Foundation
import Logging
import QBSyncCore

/// One control-protocol method as the daemon serves it: its ``ControlCall`` (name, params and
/// result, declared in QBSyncCore's ControlProtocol for clients too), who may call it, and whether
/// it needs the QuickBooks integration.
///
/// The dispatcher decodes `Params` (a failure is `invalid_params` with `data.field`), checks access,
/// adds `rpc.*` log metadata and maps thrown errors; a handler only does its work.
protocol RPCMethod: Sendable where Params == Call.Params, Result == Call.Result {
    associatedtype Call: ControlCall
    associatedtype Params = Call.Params
    associatedtype Result = Call.Result
    static var access: RPCAccess { get }
    /// Answer `integration_disabled` while the `QUICKBOOKS_*` settings are incomplete.
    static var requiresIntegration: Bool { get }
    func handle(_ params: Params, context: RPCContext) async throws -> Result
}

extension RPCMethod {
    static var name: String { Call.method }
    static var requiresIntegration: Bool { false }
}

/// A method whose handler never suspends (it reads in-memory state): the control server answers it
/// on the connection's event loop, with no thread hop, which is what keeps `daemon.status` cheap.
protocol SynchronousRPCMethod: RPCMethod {
    func handleNow(_ params: Params, context: RPCContext) throws -> Result
}

extension SynchronousRPCMethod {
    func handle(_ params: Params, context: RPCContext) async throws -> Result {
        try handleNow(params, context: context)
    }
}

/// What a handler knows about the call it serves.
struct RPCContext: Sendable {
    var peer: PeerCredentials
    var connectionID: Int
    var method: String
    var id: RPCID?
    /// The connection's logger; ``logger`` adds the request's metadata.
    var connectionLogger: Logger
    /// Where `subscribe` sends this connection's notifications.
    var notifications: NotificationSink

    /// A caller's method name as it may be logged: at most 64 printable ASCII characters, anything
    /// else as `?`, so a hostile client cannot write megabytes or control characters into the
    /// journal (L5).
    static func loggable(_ method: String) -> String {
        let clean = String(String.UnicodeScalarView(method.unicodeScalars.prefix(64).map { (0x20...0x7e).contains($0.value) ? $0 : "?" }))
        return method.unicodeScalars.count > 64 ? clean + "…" : clean
    }

    /// Carries `rpc.method` and `rpc.id`. Built on use: setting metadata re-renders it in
    /// StreamLogHandler, and most calls log nothing.
    var logger: Logger {
        var logger = connectionLogger
        logger[metadataKey: LogKey.rpcMethod] = "\(Self.loggable(method))"
        if let id { logger[metadataKey: LogKey.rpcID] = "\(id)" }
        return logger
    }
}

/// A method with its types erased, as the dispatcher's table holds it.
struct RegisteredMethod: Sendable {
    var access: RPCAccess
    var requiresIntegration: Bool
    /// Decodes params from the line, runs the handler, returns the encoded result.
    var invoke: @Sendable (_ line: Data, _ hasParams: Bool, _ context: RPCContext) async throws -> Data
    /// The same without suspending, for ``SynchronousRPCMethod``s.
    var invokeNow: (@Sendable (_ line: Data, _ hasParams: Bool, _ context: RPCContext) throws -> Data)?

    init<Method: RPCMethod>(_ method: Method) {
        access = Method.access
        requiresIntegration = Method.requiresIntegration
        invoke = { line, hasParams, context in
            let params = try RPCParamsDecoder.decode(Method.Params.self, from: line, hasParams: hasParams)
            return try RPCWire.encode(try await method.handle(params, context: context))
        }
        invokeNow = nil
    }

    init<Method: SynchronousRPCMethod>(_ method: Method) {
        access = Method.access
        requiresIntegration = Method.requiresIntegration
        let now: @Sendable (Data, Bool, RPCContext) throws -> Data = { line, hasParams, context in
            let params = try RPCParamsDecoder.decode(Method.Params.self, from: line, hasParams: hasParams)
            return try RPCWire.encode(try method.handleNow(params, context: context))
        }
        invokeNow = now
        invoke = { line, hasParams, context in try now(line, hasParams, context) }
    }
}
