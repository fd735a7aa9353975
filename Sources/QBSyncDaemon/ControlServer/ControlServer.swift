import Foundation
import Logging
import NIOCore
import NIOPosix
import QBSyncCore
import ServiceLifecycle
import Synchronization

/// The control socket: newline-delimited JSON-RPC 2.0 over a Unix stream socket.
///
/// Bound before the service group starts (so a second daemon fails fast and READY means
/// listening); `run()` accepts until graceful shutdown, which stops accepting, lets each connection
/// answer what it has already read, and then closes it.
final class ControlServer: Service, Sendable, CustomStringConvertible {
    var description: String { "ControlServer(\(ownedPath ?? "inherited socket"))" }

    /// One accepted connection: its channel (handlers installed), peer and notification queue.
    struct Accepted: Sendable {
        var channel: any Channel
        var peer: PeerCredentials
        var id: Int
        var notifications: AsyncStream<ByteBuffer>
        var continuation: AsyncStream<ByteBuffer>.Continuation
        var logger: Logger
        /// Refused by ``ControlAdmission``: it is told so and closed, and is not served.
        var refused: Bool
    }

    /// Lines longer than this (without `\n`) are refused and the connection closed.
    static let maximumLineLength = 1 << 20

    private let serverChannel: NIOAsyncChannel<Accepted, Never>
    private let state: DaemonState
    private let hub: NotificationHub
    private let logger: Logger
    /// The socket file to remove on shutdown; nil for a socket systemd owns.
    private let ownedPath: String?
    private let registry = Mutex(Registry())

    private struct Registry {
        var open: [Int: any Channel] = [:]
        var draining = false
    }

    private init(
        serverChannel: NIOAsyncChannel<Accepted, Never>, state: DaemonState, hub: NotificationHub, ownedPath: String?, logger: Logger
    ) {
        self.serverChannel = serverChannel
        self.state = state
        self.hub = hub
        self.ownedPath = ownedPath
        self.logger = logger
    }

    /// Binds the socket at `path` (replacing a stale file) and applies its mode and group.
    static func bind(
        path: String, settings: Settings, dispatcher: RPCDispatcher, state: DaemonState, hub: NotificationHub,
        group: any EventLoopGroup, logger: Logger
    ) async throws -> ControlServer {
        try ControlSocketFile.clearStale(at: path, logger: logger)
        let ids = ConnectionIDs()
        let admission = ControlAdmission()
        // No moment with a wider mode than intended: the socket file is created under this umask.
        let previousMask = umask(0o177)
        let channel: NIOAsyncChannel<Accepted, Never>
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 4096)
                // A client may send its requests and shut down its write side: answer them all first.
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelOption(.writeBufferWaterMark, value: ControlBackpressure.writeBufferWaterMark)
                .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false) { channel in
                    Self.initializeConnection(
                        channel, id: ids.next(), admission: admission, dispatcher: dispatcher, state: state, hub: hub, logger: logger
                    )
                }
            umask(previousMask)
        } catch {
            umask(previousMask)
            throw ControlSocketFile.Failure(description: "cannot bind the control socket \(path): \(error)")
        }
        try ControlSocketFile.applyOwnership(path: path, settings: settings, logger: logger)
        logger.info("control socket listening", metadata: [LogKey.path: "\(path)"])
        return ControlServer(serverChannel: channel, state: state, hub: hub, ownedPath: path, logger: logger)
    }

    /// Adopts the `control` socket systemd passed (its mode and group come from the socket unit).
    static func adopt(
        fd: Int32, dispatcher: RPCDispatcher, state: DaemonState, hub: NotificationHub, group: any EventLoopGroup, logger: Logger
    ) async throws -> ControlServer {
        let ids = ConnectionIDs()
        let admission = ControlAdmission()
        let channel: NIOAsyncChannel<Accepted, Never> = try await ServerBootstrap(group: group)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.writeBufferWaterMark, value: ControlBackpressure.writeBufferWaterMark)
            .bind(fd) { channel in
                Self.initializeConnection(
                    channel, id: ids.next(), admission: admission, dispatcher: dispatcher, state: state, hub: hub, logger: logger
                )
            }
        logger.info("control socket adopted from systemd", metadata: [LogKey.fd: "\(fd)"])
        return ControlServer(serverChannel: channel, state: state, hub: hub, ownedPath: nil, logger: logger)
    }

    /// Reads the peer and admits it, then installs framing and the request handler, all on the
    /// event loop. A connection over the caps gets one error line and is closed.
    private static func initializeConnection(
        _ channel: any Channel, id: Int, admission: ControlAdmission, dispatcher: RPCDispatcher, state: DaemonState, hub: NotificationHub,
        logger: Logger
    ) -> EventLoopFuture<Accepted> {
        PeerCredentials.read(from: channel).flatMapThrowing { peer in
            var logger = logger
            logger[metadataKey: LogKey.connection] = "\(id)"
            logger[metadataKey: LogKey.peerUID] = "\(peer.uid)"
            let settings = state.settings
            if case .refuse(let error) = admission.admit(uid: peer.uid, policy: ControlAdmissionPolicy(settings: settings)) {
                logger.warning("control connection refused: \(error.message)")
                try channel.pipeline.syncOperations.addHandler(ControlRefusal(error: error))
                let (notifications, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
                return Accepted(
                    channel: channel, peer: peer, id: id, notifications: notifications, continuation: continuation, logger: logger, refused: true
                )
            }
            channel.closeFuture.whenComplete { _ in admission.release(uid: peer.uid) }
            let (notifications, continuation) = AsyncStream.makeStream(
                of: ByteBuffer.self, bufferingPolicy: .bufferingOldest(NotificationHub.bufferLimit + 1)
            )
            let connection = ConnectionContext(
                id: id, logger: logger, notifications: NotificationSink(connectionID: id, continuation: continuation, hub: hub)
            )
            try channel.pipeline.syncOperations.addHandlers(
                ByteToMessageHandler(LineFrameDecoder(maximumLineLength: maximumLineLength)),
                ControlConnectionHandler(
                    dispatcher: dispatcher, peer: peer, connection: connection, idleTimeout: .seconds(Int64(settings.controlIdleTimeoutSeconds))
                )
            )
            return Accepted(
                channel: channel, peer: peer, id: id, notifications: notifications, continuation: continuation, logger: logger, refused: false
            )
        }
    }

    func run() async throws {
        try await withGracefulShutdownHandler {
            // A discarding group: finished connection tasks are freed at once, not kept until the end.
            try await withThrowingDiscardingTaskGroup { group in
                try await serverChannel.executeThenClose { inbound in
                    for try await accepted in inbound where !accepted.refused {
                        group.addTask { await self.serve(accepted) }
                    }
                }
            }
        } onGracefulShutdown: {
            self.drain()
        }
        if let ownedPath { unlink(ownedPath) }
        logger.info("control socket closed")
    }

    /// Stops accepting, and drains every connection: what it already read is still answered.
    private func drain() {
        let open = registry.withLock { registry in
            registry.draining = true
            return Array(registry.open.values)
        }
        serverChannel.channel.close(promise: nil)
        for channel in open { channel.pipeline.fireUserInboundEventTriggered(ControlConnectionHandler.Drain()) }
    }

    /// Tracks the connection until it closes and writes its notifications; requests are served by
    /// its ``ControlConnectionHandler`` on the event loop.
    private func serve(_ accepted: Accepted) async {
        let channel = accepted.channel
        let draining = registry.withLock { registry in
            registry.open[accepted.id] = channel
            return registry.draining
        }
        if draining { channel.pipeline.fireUserInboundEventTriggered(ControlConnectionHandler.Drain()) }
        state.connectionOpened()
        accepted.logger.debug(
            "control connection opened", metadata: [LogKey.peerPID: "\(accepted.peer.pid)", LogKey.peerGID: "\(accepted.peer.gid)"]
        )
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await line in accepted.notifications {
                    do { try await channel.writeAndFlush(line) } catch { break }
                }
                // The hub dropped a subscriber that fell behind, or the connection ended.
                channel.close(promise: nil)
            }
            try? await channel.closeFuture.get()  // try?: a close that fails is closed
            accepted.continuation.finish()
            group.cancelAll()
        }
        hub.unregister(connectionID: accepted.id)
        _ = registry.withLock { $0.open.removeValue(forKey: accepted.id) }
        state.connectionClosed()
        accepted.logger.debug("control connection closed")
    }
}

/// Numbers connections for logs and the notification hub.
final class ConnectionIDs: Sendable {
    private let counter = Atomic<Int>(0)
    func next() -> Int { counter.wrappingAdd(1, ordering: .relaxed).newValue }
}
