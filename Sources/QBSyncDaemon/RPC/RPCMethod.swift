import Foundation
import Logging
import QBSyncCore

/// One control-protocol method: its name, who may call it, whether it needs the QuickBooks
/// integration, and its typed params and result.
///
/// The dispatcher decodes `Params` (a failure is `invalid_params` with `data.field`), checks access,
/// adds `rpc.*` log metadata and maps thrown errors; a handler only does its work.
protocol RPCMethod: Sendable {
    associatedtype Params: Decodable & Sendable
    associatedtype Result: Encodable & Sendable
    static var name: String { get }
    static var access: RPCAccess { get }
    /// Answer `integration_disabled` while the `QUICKBOOKS_*` settings are incomplete.
    static var requiresIntegration: Bool { get }
    func handle(_ params: Params, context: RPCContext) async throws -> Result
}

extension RPCMethod {
    static var requiresIntegration: Bool { false }
}

/// What a handler knows about the call it serves.
struct RPCContext: Sendable {
    var peer: PeerCredentials
    var connectionID: Int
    /// Carries `rpc.method`, `rpc.id` and the peer's ids.
    var logger: Logger
    /// Where `subscribe` sends this connection's notifications.
    var notifications: NotificationSink
}

/// A method with its types erased, as the dispatcher's table holds it.
struct RegisteredMethod: Sendable {
    var access: RPCAccess
    var requiresIntegration: Bool
    /// Decodes params from the line, runs the handler, returns the encoded result.
    var invoke: @Sendable (_ line: Data, _ hasParams: Bool, _ context: RPCContext) async throws -> Data

    init<Method: RPCMethod>(_ method: Method) {
        access = Method.access
        requiresIntegration = Method.requiresIntegration
        invoke = { line, hasParams, context in
            let params = try RPCParamsDecoder.decode(Method.Params.self, from: line, hasParams: hasParams)
            let result = try await method.handle(params, context: context)
            return try RPCWire.encoder.encode(result)
        }
    }

    /// A method of the protocol that a later release implements: it answers `integration_disabled`
    /// like its real self would, and otherwise says it is not available yet.
    static func notYetAvailable(_ name: String, access: RPCAccess, requiresIntegration: Bool) -> RegisteredMethod {
        RegisteredMethod(access: access, requiresIntegration: requiresIntegration) { _, _, _ in
            throw QBSyncError.methodNotFound(method: name, detail: "\(name) is part of the protocol but not available in qbsyncd \(QBSyncVersion.current) yet")
        }
    }

    private init(access: RPCAccess, requiresIntegration: Bool, invoke: @escaping @Sendable (Data, Bool, RPCContext) async throws -> Data) {
        self.access = access
        self.requiresIntegration = requiresIntegration
        self.invoke = invoke
    }
}
