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

    typealias Connection = NIOAsyncChannel<ControlFrame, ByteBuffer>

    /// One accepted connection and its peer, read at accept time.
    struct Accepted: Sendable {
        var channel: Connection
        var peer: PeerCredentials
    }

    /// Lines longer than this (without `\n`) are refused and the connection closed.
    static let maximumLineLength = 1 << 20

    private let serverChannel: NIOAsyncChannel<Accepted, Never>
    private let dispatcher: RPCDispatcher
    private let state: DaemonState
    private let hub: NotificationHub
    private let logger: Logger
    /// The socket file to remove on shutdown; nil for a socket systemd owns.
    private let ownedPath: String?
    private let registry = Mutex(Registry())

    private struct Registry {
        var nextID = 1
        var open: [Int: any Channel] = [:]
        var draining = false
    }

    private init(
        serverChannel: NIOAsyncChannel<Accepted, Never>, dispatcher: RPCDispatcher, state: DaemonState, hub: NotificationHub,
        ownedPath: String?, logger: Logger
    ) {
        self.serverChannel = serverChannel
        self.dispatcher = dispatcher
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
        // No moment with a wider mode than intended: the socket file is created under this umask.
        let previousMask = umask(0o177)
        let channel: NIOAsyncChannel<Accepted, Never>
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                // A client may send its requests and shut down its write side: answer them all first.
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false) { channel in
                    Self.initializeConnection(channel)
                }
            umask(previousMask)
        } catch {
            umask(previousMask)
            throw ControlSocketFile.Failure(description: "cannot bind the control socket \(path): \(error)")
        }
        try ControlSocketFile.applyOwnership(path: path, settings: settings, logger: logger)
        logger.info("control socket listening", metadata: [LogKey.path: "\(path)"])
        return ControlServer(serverChannel: channel, dispatcher: dispatcher, state: state, hub: hub, ownedPath: path, logger: logger)
    }

    private static func initializeConnection(_ channel: any Channel) -> EventLoopFuture<Accepted> {
        PeerCredentials.read(from: channel).flatMapThrowing { peer in
            try channel.pipeline.syncOperations.addHandler(
                ByteToMessageHandler(LineFrameDecoder(maximumLineLength: maximumLineLength))
            )
            let connection = try Connection(
                wrappingChannelSynchronously: channel,
                configuration: .init(inboundType: ControlFrame.self, outboundType: ByteBuffer.self)
            )
            return Accepted(channel: connection, peer: peer)
        }
    }

    func run() async throws {
        try await withGracefulShutdownHandler {
            // A discarding group: finished connection tasks are freed at once, not kept until the end.
            try await withThrowingDiscardingTaskGroup { group in
                try await serverChannel.executeThenClose { inbound in
                    for try await accepted in inbound {
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

    /// Stops accepting, and half-closes every connection: what it already sent is still answered.
    private func drain() {
        let open = registry.withLock { registry in
            registry.draining = true
            return Array(registry.open.values)
        }
        serverChannel.channel.close(promise: nil)
        for channel in open { channel.close(mode: .input, promise: nil) }
    }

    private func serve(_ accepted: Accepted) async {
        let channel = accepted.channel.channel
        let (id, draining) = registry.withLock { registry in
            let id = registry.nextID
            registry.nextID += 1
            registry.open[id] = channel
            return (id, registry.draining)
        }
        if draining { channel.close(mode: .input, promise: nil) }
        state.connectionOpened()
        defer {
            state.connectionClosed()
            hub.unregister(connectionID: id)
            _ = registry.withLock { $0.open.removeValue(forKey: id) }
        }

        var logger = self.logger
        logger[metadataKey: LogKey.connection] = "\(id)"
        logger[metadataKey: LogKey.peerUID] = "\(accepted.peer.uid)"
        logger.debug("control connection opened", metadata: [LogKey.peerPID: "\(accepted.peer.pid)", LogKey.peerGID: "\(accepted.peer.gid)"])

        let (notifications, continuation) = AsyncStream.makeStream(
            of: ByteBuffer.self, bufferingPolicy: .bufferingOldest(NotificationHub.bufferLimit)
        )
        let context = ConnectionContext(
            id: id, logger: logger, notifications: NotificationSink(connectionID: id, continuation: continuation, hub: hub)
        )
        do {
            try await accepted.channel.executeThenClose { inbound, outbound in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await line in notifications { try await outbound.write(line) }
                        // The hub dropped a subscriber that fell behind: close its connection.
                        channel.close(promise: nil)
                    }
                    try await self.answer(inbound, outbound: outbound, peer: accepted.peer, context: context)
                    continuation.finish()
                    group.cancelAll()
                }
            }
        } catch {
            logger.debug("control connection ended with an error", metadata: [LogKey.error: "\(error)"])
        }
        logger.debug("control connection closed")
    }

    /// Answers requests in order, one write per batch of lines read together.
    private func answer(
        _ inbound: NIOAsyncChannelInboundStream<ControlFrame>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        peer: PeerCredentials, context: ConnectionContext
    ) async throws {
        for try await frame in inbound {
            switch frame {
            case .lines(let lines):
                var output = ByteBuffer()
                for line in lines {
                    await dispatcher.handle(line: line, peer: peer, connection: context, into: &output)
                }
                if output.readableBytes > 0 { try await outbound.write(output) }
            case .oversize:
                var output = ByteBuffer()
                let error = QBSyncError.invalidRequest(detail: "the line is longer than 1 MiB; closing the connection")
                RPCWire.failure(id: nil, error: error.rpcError, into: &output)
                try await outbound.write(output)
                context.logger.notice("control line over 1 MiB; connection closed")
                return
            }
        }
    }
}
