import Foundation
import QBSyncCore
public import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
public import ServiceLifecycle
import Synchronization

/// A small HTTP/1.1 server: whole requests in, whole responses out, keep-alive, a body limit, and
/// the two fault modes Intuit's clients meet (a slow answer is the handler's to make; a dropped
/// connection is ``SimOutcome/dropConnection``).
public final class SimHTTPServer: Service, Sendable {
    public typealias Handler = @Sendable (SimRequest) async -> SimOutcome

    private let channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    private let handler: Handler
    private let logger: Logger
    /// Open connections, so that shutdown can end idle keep-alive ones instead of waiting on them.
    private let connections = Mutex<(next: Int, open: [Int: any Channel], draining: Bool)>((0, [:], false))
    /// Requests over this size are answered 413.
    static let maximumBodySize = 10 << 20

    /// The bound port (useful with port 0).
    public let port: Int

    private init(
        channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>,
        handler: @escaping Handler, logger: Logger
    ) {
        self.channel = channel
        self.handler = handler
        self.logger = logger
        port = channel.channel.localAddress?.port ?? 0
    }

    public static func bind(host: String, port: Int, logger: Logger, handler: @escaping Handler) async throws -> SimHTTPServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                        wrappingChannelSynchronously: channel
                    )
                }
            }
        return SimHTTPServer(channel: channel, handler: handler, logger: logger)
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await channel.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await self.serve(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            let open = self.connections.withLock { state in
                state.draining = true
                return Array(state.open.values)
            }
            self.channel.channel.close(promise: nil)
            // Requests being served still get their answers; idle connections end now.
            for connection in open { connection.close(mode: .input, promise: nil) }
        }
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        let (id, draining) = connections.withLock { state in
            state.next += 1
            state.open[state.next] = connection.channel
            return (state.next, state.draining)
        }
        if draining { connection.channel.close(mode: .input, promise: nil) }
        defer { _ = connections.withLock { $0.open.removeValue(forKey: id) } }
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                var body = ByteBuffer()
                var tooLarge = false
                for try await part in inbound {
                    switch part {
                    case .head(let requestHead):
                        head = requestHead
                        body.clear()
                        tooLarge = false
                    case .body(var chunk):
                        if body.readableBytes + chunk.readableBytes > Self.maximumBodySize { tooLarge = true } else { body.writeBuffer(&chunk) }
                    case .end:
                        guard let requestHead = head else { continue }
                        let outcome: SimOutcome
                        if tooLarge {
                            outcome = .respond(.text(.payloadTooLarge, "request body too large"))
                        } else {
                            outcome = await handler(
                                SimRequest(method: requestHead.method, uri: requestHead.uri, headers: requestHead.headers, body: Data(body.readableBytesView))
                            )
                        }
                        guard case .respond(let response) = outcome else { return }
                        try await write(response, keepAlive: requestHead.isKeepAlive, version: requestHead.version, to: outbound)
                        if !requestHead.isKeepAlive { return }
                    }
                }
            }
        } catch {
            logger.debug("simulator connection ended", metadata: [LogKey.error: "\(error)"])
        }
    }

    private func write(
        _ response: SimResponse, keepAlive: Bool, version: HTTPVersion, to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws {
        var headers = HTTPHeaders(response.headers)
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        try await outbound.write(.head(HTTPResponseHead(version: version, status: response.status, headers: headers)))
        if !response.body.isEmpty { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body)))) }
        try await outbound.write(.end(nil))
    }
}
