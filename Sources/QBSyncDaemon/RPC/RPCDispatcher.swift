import Foundation
import Logging
import NIOCore
import QBSyncCore
import QBSyncStore

/// Turns one request line into its response line: envelope, access, integration gate, params,
/// handler, and the mapping of every error to the protocol's code and reason.
struct RPCDispatcher: Sendable {
    /// What a line needs: its response now (nil for a client notification), or work that must await.
    enum Prepared: Sendable {
        case immediate(ByteBuffer?)
        case deferred(@Sendable () async -> ByteBuffer?)
    }

    let methods: [String: RegisteredMethod]
    let state: DaemonState
    let metrics: DaemonMetrics?

    init(methods: [String: RegisteredMethod], state: DaemonState, metrics: DaemonMetrics? = nil) {
        self.methods = methods
        self.state = state
        self.metrics = metrics
    }

    /// Everything that can be decided without suspending happens here, on the caller's thread:
    /// malformed lines, access, unknown methods, the integration gate and synchronous handlers.
    func prepare(line: ByteBuffer, peer: PeerCredentials, connection: ConnectionContext) -> Prepared {
        let bytes = Data(line.readableBytesView)
        let envelope: RPCEnvelope
        switch RPCEnvelope.parse(bytes) {
        case .success(let parsed):
            envelope = parsed
        case .failure(let failure):
            connection.logger.debug("control request refused", metadata: [LogKey.error: "\(failure.error.rpcError.message)"])
            var output = ByteBuffer()
            RPCWire.failure(id: failure.id, error: failure.error.rpcError, into: &output)
            return .immediate(output)
        }

        // Known methods only as labels: a client cannot grow the metric's label set.
        metrics?.controlRequest(method: methods[envelope.method] == nil ? "unknown" : envelope.method)
        let context = RPCContext(
            peer: peer, connectionID: connection.id, method: envelope.method, id: envelope.id, connectionLogger: connection.logger,
            notifications: connection.notifications
        )

        let method: RegisteredMethod
        do {
            method = try admit(envelope, context: context)
        } catch {
            return .immediate(respond(envelope, outcome: .failure(error), context: context, refusals: connection.refusals))
        }
        if let invokeNow = method.invokeNow {
            let outcome = Result { try invokeNow(bytes, envelope.hasParams, context) }
            return .immediate(respond(envelope, outcome: outcome, context: context, refusals: connection.refusals))
        }
        return .deferred {
            let outcome: Result<Data, any Error>
            do {
                outcome = .success(try await method.invoke(bytes, envelope.hasParams, context))
            } catch {
                outcome = .failure(error)
            }
            return respond(envelope, outcome: outcome, context: context, refusals: connection.refusals)
        }
    }

    /// Prepares and, where needed, awaits one line: appends its response to `output`.
    func handle(line: ByteBuffer, peer: PeerCredentials, connection: ConnectionContext, into output: inout ByteBuffer) async {
        let response: ByteBuffer?
        switch prepare(line: line, peer: peer, connection: connection) {
        case .immediate(let buffer): response = buffer
        case .deferred(let work): response = await work()
        }
        if var response { output.writeBuffer(&response) }
    }

    /// Access, method lookup and the integration gate; logs who makes every mutating call.
    private func admit(_ envelope: RPCEnvelope, context: RPCContext) throws -> RegisteredMethod {
        let level = state.accessPolicy.level(for: context.peer)
        guard level != .none else { throw QBSyncError.forbidden(method: envelope.method) }
        guard let method = methods[envelope.method] else { throw QBSyncError.methodNotFound(method: envelope.method) }
        guard method.access == .read || level == .full else { throw QBSyncError.forbidden(method: envelope.method) }
        if method.access == .write {
            context.logger.info(
                "control call",
                metadata: [
                    LogKey.peerPID: "\(context.peer.pid)", LogKey.peerUID: "\(context.peer.uid)", LogKey.peerGID: "\(context.peer.gid)",
                ]
            )
        }
        if method.requiresIntegration {
            let missing = state.settings.integrationMissing
            guard missing.isEmpty else { throw QBSyncError.integrationDisabled(missing: missing) }
        }
        return method
    }

    private func respond(_ envelope: RPCEnvelope, outcome: Result<Data, any Error>, context: RPCContext, refusals: RefusalLog) -> ByteBuffer? {
        switch outcome {
        case .success(let result):
            guard let id = envelope.id else { return nil }
            var output = ByteBuffer()
            RPCWire.success(id: id, result: result, into: &output)
            return output
        case .failure(let error):
            let logger = context.logger
            let rpcError = map(error, logger: logger, refusals: refusals)
            guard let id = envelope.id else {
                logger.debug("client notification failed", metadata: [LogKey.error: "\(rpcError.message)"])
                return nil
            }
            var output = ByteBuffer()
            RPCWire.failure(id: id, error: rpcError, into: &output)
            return output
        }
    }

    /// A `QBSyncError` is the caller's to see, and so is Intuit's answer to an org's call (mapped
    /// here, and only here); anything else is a bug, logged under a correlation id.
    private func map(_ error: any Error, logger: Logger, refusals: RefusalLog) -> RPCErrorObject {
        switch error as? QBSyncError {
        case .forbidden?: refusals.notice("control call forbidden", logger: logger)
        case .methodNotFound?: refusals.notice("control call of an unknown method", logger: logger)
        default: break
        }
        return Self.protocolError(error, logger: logger)
    }

    /// The protocol error a client gets for what a handler threw (here, or on the instance a call
    /// was forwarded to): a `QBSyncError` as it is, Intuit's answer to an org's call mapped here
    /// and only here, another instance's answer as it came; anything else is a bug, logged under a
    /// correlation id.
    static func protocolError(_ error: any Error, logger: Logger) -> RPCErrorObject {
        if let error = error as? CompanyCallError {
            return QBOErrorMapping.protocolError(error.error, org: error.org).rpcError
        }
        if let error = error as? QBSyncError { return error.rpcError }
        if let error = error as? RelayedRPCError { return error.rpcError }
        if let error = error as? any CompanyLeaseLoss {
            // The company moved to another instance mid-call (this one paused past its lease): what
            // this instance had still to write was refused. A push is safe to repeat; the next call goes to the new holder.
            return QBSyncError.qboUnavailable(detail: "QuickBooks company \(error.realmID) moved to another qbsyncd instance during this call; call again").rpcError
        }
        let correlationID = UUID().uuidString.lowercased()
        logger.error(
            "control call failed",
            metadata: [LogKey.correlationID: "\(correlationID)", LogKey.error: "\(String(reflecting: type(of: error))): \(error)"]
        )
        return QBSyncError.internalError(correlationID: correlationID).rpcError
    }
}

/// Per-connection facts the dispatcher passes to handlers.
struct ConnectionContext: Sendable {
    var id: Int
    var logger: Logger
    var notifications: NotificationSink
    /// Rate-limits this connection's refusal logs (L5).
    var refusals = RefusalLog()
}
