public import Logging
public import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
public import ServiceLifecycle
import Synchronization

/// A small HTTP/1.1 server: keep-alive, a body limit, an idle timeout and a request deadline, and
/// answers written from the event loop (``HTTPResponder``).
///
/// It is bound (or adopts its socket) in ``bind(_:responder:logger:)``, before ``run()``, so the
/// caller knows the real address and can report readiness. ``run()`` lasts until the server stops:
/// on graceful shutdown (or ``stop()``, or cancellation) it quiesces: it stops accepting, closes
/// idle keep-alive connections at once, lets each request in flight get its answer and then closes
/// that connection, and returns once every connection is closed.
public final class HTTPServer: Service, Sendable, CustomStringConvertible {
    /// The bound address (with the real port when port 0 was asked for).
    public let localAddress: SocketAddress?
    private let channel: any Channel
    private let quiescing: ServerQuiescingHelper
    private let stopped: EventLoopPromise<Void>
    private let stopping = Atomic<Bool>(false)
    private let logger: Logger

    public var description: String { "HTTPServer(\(localAddress.map { "\($0)" } ?? "?"))" }

    /// The bound port (0 for a Unix socket).
    public var port: Int { localAddress?.port ?? 0 }

    private init(channel: any Channel, quiescing: ServerQuiescingHelper, logger: Logger) {
        self.channel = channel
        self.quiescing = quiescing
        self.logger = logger
        localAddress = channel.localAddress
        stopped = channel.eventLoop.makePromise()
    }

    /// Binds (or adopts) the listening socket and starts accepting; requests are served from now on.
    public static func bind(_ configuration: HTTPServerConfiguration, responder: some HTTPResponder, logger: Logger) async throws -> HTTPServer {
        let quiescing = ServerQuiescingHelper(group: configuration.eventLoopGroup)
        let bootstrap = ServerBootstrap(group: configuration.eventLoopGroup)
            .serverChannelOption(.backlog, value: configuration.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let admit = configuration.admit, !admit(channel) {
                        channel.close(promise: nil)
                        return
                    }
                    try install(on: channel.pipeline.syncOperations, configuration: configuration, responder: responder)
                }
            }
        let channel: any Channel
        switch configuration.target.kind {
        case .address(let host, let port): channel = try await bootstrap.bind(host: host, port: port).get()
        case .descriptor(let fd): channel = try await bootstrap.withBoundSocket(fd).get()
        }
        let server = HTTPServer(channel: channel, quiescing: quiescing, logger: logger)
        // A listener that closes by itself (an error) stops the server rather than leaving run() waiting.
        channel.closeFuture.whenComplete { _ in server.stop() }
        return server
    }

    /// The connection's handlers: idle timeout, request deadline, NIO's HTTP/1 codec and pipelining, ours.
    static func install(on pipeline: ChannelPipeline.SynchronousOperations, configuration: HTTPServerConfiguration, responder: any HTTPResponder) throws {
        if let idle = configuration.idleTimeout { try pipeline.addHandler(IdleStateHandler(readTimeout: idle)) }
        if let deadline = configuration.requestTimeout {
            try HTTPRequestDeadline.install(on: pipeline, timeout: deadline, validatesResponseHeaders: configuration.validatesResponseHeaders)
        } else {
            try pipeline.configureHTTPServerPipeline(withErrorHandling: true, withOutboundHeaderValidation: configuration.validatesResponseHeaders)
        }
        if configuration.idleTimeout != nil { try pipeline.addHandler(IdleCloser()) }
        try pipeline.addHandler(HTTPRequestHandler(responder: responder, maximumBodySize: configuration.maximumBodySize))
    }

    public func run() async throws {
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await stopped.futureResult.get()
            } onGracefulShutdown: {
                self.stop()
            }
        } onCancel: {
            self.stop()
        }
    }

    /// Starts quiescing (once): ``run()`` returns when the last connection has closed.
    public func stop() {
        guard stopping.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        logger.debug("http server quiescing", metadata: ["address": "\(localAddress.map { "\($0)" } ?? "?")"])
        quiescing.initiateShutdown(promise: stopped)
    }
}
