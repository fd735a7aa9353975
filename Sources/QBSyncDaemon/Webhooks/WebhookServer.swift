import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import QBSyncCore
import QBSyncStore
import ServiceLifecycle
import Synchronization

/// The HTTP listener (spec/runtime.md): Intuit's webhooks, `/healthz` and `/metrics`.
///
/// A delivery is answered 200 only once its raw body is durably stored; processing happens after
/// the answer. A connection idle for ``readTimeout`` is closed, a request that has not fully
/// arrived `QBSYNCD_WEBHOOK_REQUEST_TIMEOUT` after its first byte is answered 408 and closed
/// (``WebhookRequestDeadline``), and ``WebhookAdmissionPolicy`` caps connections (in all, the
/// oldest making room for the newest, and per non-loopback address). `/healthz` and `/metrics`
/// answer local, unforwarded requests only (``WebhookPeer``).
final class WebhookServer: Service, Sendable, CustomStringConvertible {
    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
    static let path = "/api/webhooks/quickbooks"
    static let maximumBody = 1 << 20
    static let readTimeout: TimeAmount = .seconds(10)
    static let admissionPolicy = WebhookAdmissionPolicy.standard

    var description: String { "WebhookServer(\(boundAddress))" }

    private let channel: NIOAsyncChannel<Connection, Never>
    private let intake: WebhookIntake
    private let state: DaemonState
    private let store: Store
    private let metrics: DaemonMetrics
    private let scrape: @Sendable () async -> Void
    private let logger: Logger
    private let registry = Mutex(Registry())
    private let connectionIDs = ConnectionIDs()

    /// The open connections by admission order (the lowest id is the oldest), and per address.
    private struct Registry {
        var open: [Int: (channel: any Channel, address: String?)] = [:]
        var perAddress: [String: Int] = [:]
    }
    /// `HOST:PORT` as bound (the port is real even when the setting asked for 0).
    let boundAddress: String

    private init(channel: NIOAsyncChannel<Connection, Never>, intake: WebhookIntake, state: DaemonState, store: Store, metrics: DaemonMetrics, scrape: @escaping @Sendable () async -> Void, logger: Logger) {
        self.channel = channel
        self.intake = intake
        self.state = state
        self.store = store
        self.metrics = metrics
        self.scrape = scrape
        self.logger = logger
        let local = channel.channel.localAddress
        if let path = local?.pathname {
            boundAddress = "unix:\(path)"
        } else {
            boundAddress = ListenAddress(host: local?.ipAddress ?? state.settings.webhookListen.host, port: local?.port ?? 0).description
        }
    }

    /// Binds `QBSYNCD_WEBHOOK_LISTEN`, or adopts the `webhook` socket systemd passed.
    static func bind(
        settings: Settings, inheritedFD: Int32? = nil, intake: WebhookIntake, state: DaemonState, store: Store, metrics: DaemonMetrics,
        scrape: @escaping @Sendable () async -> Void, logger: Logger
    ) async throws -> WebhookServer {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<Connection> = { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: readTimeout))
                let requestTimeout = TimeAmount.seconds(Int64(state.settings.webhookRequestTimeoutSeconds))
                try WebhookRequestDeadline.install(on: channel.pipeline.syncOperations, timeout: requestTimeout)
                try channel.pipeline.syncOperations.addHandler(IdleCloser())
                return try Connection(wrappingChannelSynchronously: channel)
            }
        }
        let channel: NIOAsyncChannel<Connection, Never>
        if let inheritedFD {
            channel = try await bootstrap.bind(inheritedFD, childChannelInitializer: initializer)
        } else {
            channel = try await bootstrap.bind(host: settings.webhookListen.host, port: settings.webhookListen.port, childChannelInitializer: initializer)
        }
        let server = WebhookServer(channel: channel, intake: intake, state: state, store: store, metrics: metrics, scrape: scrape, logger: logger)
        logger.info("webhook listener bound", metadata: [LogKey.address: "\(server.boundAddress)"])
        return server
    }

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await channel.executeThenClose { inbound in
                    for try await connection in inbound {
                        guard let id = admit(connection.channel) else {
                            // Through executeThenClose, which finishes the writer: a bare close
                            // left it to deinit unfinished, which traps (the bad-input campaign
                            // crashed the daemon with its 513th idle connection).
                            try? await connection.executeThenClose { _, _ in }  // ignored: it is being refused
                            continue
                        }
                        group.addTask {
                            defer { self.release(id) }
                            await self.serve(connection)
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            self.channel.channel.close(promise: nil)
        }
    }

    /// Counts the connection in, closing the oldest when full; nil when its address is over its cap.
    private func admit(_ channel: any Channel) -> Int? {
        let address = WebhookPeer.address(channel.remoteAddress)
        let isLoopback = WebhookPeer.isLoopback(channel.remoteAddress)
        let id = connectionIDs.next()
        let (admitted, oldest): (Bool, (any Channel)?) = registry.withLock { registry in
            let decision = Self.admissionPolicy.decide(
                open: registry.open.count, openFromAddress: address.map { registry.perAddress[$0, default: 0] } ?? 0, isLoopback: isLoopback
            )
            guard decision != .refuse else { return (false, nil) }
            var oldest: (any Channel)?
            if decision == .admitClosingOldest, let first = registry.open.keys.min() {
                // Removed now, so it is not closed twice; its own task still ends and releases nothing.
                oldest = remove(first, from: &registry)
            }
            registry.open[id] = (channel, address)
            if let address { registry.perAddress[address, default: 0] += 1 }
            return (true, oldest)
        }
        if !admitted {
            metrics.webhookConnectionsShedAddressCap.increment()
            logger.debug("webhook connection refused: its address is over the per-address cap", metadata: [LogKey.remote: "\(address ?? "?")"])
            return nil
        }
        if let oldest {
            metrics.webhookConnectionsShedFull.increment()
            logger.debug("webhook listener full: the oldest connection was closed to make room")
            oldest.close(promise: nil)
        }
        return id
    }

    private func release(_ id: Int) {
        _ = registry.withLock { remove(id, from: &$0) }
    }

    private func remove(_ id: Int, from registry: inout Registry) -> (any Channel)? {
        guard let entry = registry.open.removeValue(forKey: id) else { return nil }
        if let address = entry.address {
            let left = registry.perAddress[address, default: 1] - 1
            registry.perAddress[address] = left > 0 ? left : nil
        }
        return entry.channel
    }

    private func serve(_ connection: Connection) async {
        let remote = connection.channel.remoteAddress?.description
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                var body = ByteBuffer()
                for try await part in inbound {
                    switch part {
                    case .head(let requestHead):
                        head = requestHead
                        body.clear()
                    case .body(var chunk):
                        body.writeBuffer(&chunk)
                        if body.readableBytes > Self.maximumBody {
                            metrics.webhooksRejectedTooLarge.increment()
                            try await write(status: .payloadTooLarge, body: "request body over 1 MiB\n", keepAlive: false, to: outbound)
                            return
                        }
                    case .end:
                        guard let request = head else { continue }
                        let local = WebhookPeer.mayReachLocalEndpoints(peer: connection.channel.remoteAddress, headers: request.headers)
                        let (status, contentType, text) = await route(request, body: body, remote: remote, local: local)
                        try await write(status: status, contentType: contentType, body: text, keepAlive: request.isKeepAlive, to: outbound)
                        if !request.isKeepAlive { return }
                        head = nil
                    }
                }
            }
        } catch {
            logger.debug("webhook connection ended", metadata: [LogKey.error: "\(error)"])
        }
    }

    /// `local`: the peer may reach `/healthz` and `/metrics` (L11); to anyone else they do not exist.
    private func route(_ request: HTTPRequestHead, body: ByteBuffer, remote: String?, local: Bool) async -> (HTTPResponseStatus, String, String) {
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        switch (path, request.method) {
        case ("/healthz", _) where !local, ("/metrics", _) where !local:
            return (.notFound, "text/plain", "not found\n")
        case (Self.path, .POST): return await receive(request, body: body, remote: remote)
        case (Self.path, _): return (.methodNotAllowed, "text/plain", "use POST\n")
        case ("/healthz", .GET):
            return Self.health(store.health.snapshot)
        case ("/metrics", .GET):
            await scrape()
            return (.ok, "text/plain; version=0.0.4", String(decoding: metrics.exposition(), as: UTF8.self))
        case ("/healthz", _), ("/metrics", _):
            return (.methodNotAllowed, "text/plain", "use GET\n")
        default:
            return (.notFound, "text/plain", "not found\n")
        }
    }

    /// `/healthz` from the cached store health (the periodic probe and every commit keep it): never a
    /// write queued behind webhook commits (L11, L14). 503 says why.
    static func health(_ snapshot: StoreHealth.Snapshot) -> (HTTPResponseStatus, String, String) {
        guard let problem = snapshot.problem else { return (.ok, "application/json", #"{"status":"ok"}"#) }
        let status = snapshot.writable ? "store damaged" : "store not writable"
        let body = String(decoding: (try? JSONEncoder().encode(["status": status, "reason": problem])) ?? Data(), as: UTF8.self)  // try?: a [String: String] always encodes
        return (.serviceUnavailable, "application/json", body)
    }

    /// Verify, store, answer.
    private func receive(_ request: HTTPRequestHead, body: ByteBuffer, remote: String?) async -> (HTTPResponseStatus, String, String) {
        let settings = state.settings
        guard settings.integrationEnabled, let verifier = settings.quickBooks.webhookVerifierToken else {
            return (.serviceUnavailable, "text/plain", "the QuickBooks integration is disabled\n")
        }
        let bytes = Data(body.readableBytesView)
        guard let signature = request.headers.first(name: "intuit-signature"), Self.verify(signature: signature, body: bytes, verifier: verifier.value) else {
            metrics.webhooksRejectedSignature.increment()
            state.webhookRejected()
            logger.warning("webhook refused: missing or wrong intuit-signature", metadata: [LogKey.remote: "\(remote ?? "?")"])
            return (.unauthorized, "text/plain", "invalid signature\n")
        }
        let parsed = WebhookPayload.parseDelivery(bytes)
        do {
            try await intake.append(
                IncomingDelivery(
                    receivedAt: Date(), body: bytes, signature: signature, remoteAddress: remote, format: parsed.format, events: parsed.events,
                    unparsed: parsed.unparsed
                )
            )
        } catch {
            // Not stored, so not acknowledged: Intuit delivers it again.
            logger.error("webhook delivery could not be stored", metadata: [LogKey.error: "\(error)"])
            return (.serviceUnavailable, "text/plain", "not stored; deliver again\n")
        }
        metrics.webhooksAccepted.increment()
        state.webhookAccepted()
        if !parsed.unparsed.isEmpty {
            // Stored (the raw body and a failed event each), counted and said: never a silent 200.
            metrics.webhookEventsUnparsed.increment(by: Int64(parsed.unparsed.count))
            state.webhookEventsUnparsed(add: parsed.unparsed.count)
            logger.warning(
                "a signed webhook delivery held events that could not be parsed; stored as failed events",
                metadata: [LogKey.unparsed: "\(parsed.unparsed.count)", LogKey.parsed: "\(parsed.events.count)", LogKey.first: "\(parsed.unparsed[0].prefix(120))"]
            )
        }
        return (.ok, "text/plain", "")
    }

    /// `base64(HMAC-SHA256(verifier, raw body))`, compared in constant time.
    static func verify(signature: String, body: Data, verifier: String) -> Bool {
        guard let provided = Data(base64Encoded: signature.trimmingCharacters(in: .whitespaces)) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(provided, authenticating: body, using: SymmetricKey(data: Data(verifier.utf8)))
    }

    private func write(status: HTTPResponseStatus, contentType: String = "text/plain", body: String, keepAlive: Bool, to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        var headers = HTTPHeaders([("Content-Type", contentType), ("Content-Length", String(body.utf8.count))])
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)))
        if !body.isEmpty { try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body)))) }
        try await outbound.write(.end(nil))
    }
}

/// Closes a connection that sent nothing for the read timeout (a slow or idle client).
private final class IdleCloser: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? IdleStateHandler.IdleStateEvent, event == .read {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
