import Foundation
import Logging
import NIOCore
import QBSyncCore

/// Turns one request line into its response line: envelope, access, integration gate, params,
/// handler, and the mapping of every error to the protocol's code and reason.
struct RPCDispatcher: Sendable {
    let methods: [String: RegisteredMethod]
    let state: DaemonState

    init(methods: [String: RegisteredMethod], state: DaemonState) {
        self.methods = methods
        self.state = state
    }

    /// Appends the response to `output`, or nothing for a client notification (a request without `id`).
    func handle(line: ByteBuffer, peer: PeerCredentials, connection: ConnectionContext, into output: inout ByteBuffer) async {
        let bytes = Data(line.readableBytesView)
        let envelope: RPCEnvelope
        switch RPCEnvelope.parse(bytes) {
        case .success(let parsed):
            envelope = parsed
        case .failure(let failure):
            connection.logger.debug("control request refused", metadata: [LogKey.error: "\(failure.error.rpcError.message)"])
            RPCWire.failure(id: failure.id, error: failure.error.rpcError, into: &output)
            return
        }

        var logger = connection.logger
        logger[metadataKey: LogKey.rpcMethod] = "\(envelope.method)"
        if let id = envelope.id { logger[metadataKey: LogKey.rpcID] = "\(id)" }
        let context = RPCContext(peer: peer, connectionID: connection.id, logger: logger, notifications: connection.notifications)

        do {
            let result = try await invoke(envelope, line: bytes, context: context)
            if let id = envelope.id { RPCWire.success(id: id, result: result, into: &output) }
        } catch {
            let rpcError = map(error, logger: logger)
            if let id = envelope.id {
                RPCWire.failure(id: id, error: rpcError, into: &output)
            } else {
                logger.debug("client notification failed", metadata: [LogKey.error: "\(rpcError.message)"])
            }
        }
    }

    private func invoke(_ envelope: RPCEnvelope, line: Data, context: RPCContext) async throws -> Data {
        let level = state.accessPolicy.level(for: context.peer)
        guard level != .none else { throw QBSyncError.forbidden(method: envelope.method) }
        guard let method = methods[envelope.method] else { throw QBSyncError.methodNotFound(method: envelope.method) }
        guard method.access == .read || level == .full else { throw QBSyncError.forbidden(method: envelope.method) }
        if method.access == .write {
            // Every mutating call is logged with who made it.
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
        return try await method.invoke(line, envelope.hasParams, context)
    }

    /// A `QBSyncError` is the caller's to see; anything else is a bug, logged under a correlation id.
    private func map(_ error: any Error, logger: Logger) -> RPCErrorObject {
        if let error = error as? QBSyncError {
            if case .forbidden = error {
                logger.notice("control call forbidden")
            }
            return error.rpcError
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
}
