import HTTPServerKit
import Logging
import NIOCore
import QBSyncCore
import QBSyncStore
import ServiceLifecycle

/// The HTTP listener (spec/runtime.md): Intuit's webhooks, `/healthz` and `/metrics`, on the
/// project's HTTP server (HTTPServerKit).
///
/// A delivery is answered 200 only once its raw body is durably stored (``WebhookIntake``);
/// processing happens after the answer. A connection idle for ``readTimeout`` is closed, a request
/// that has not fully arrived `QBSYNCD_WEBHOOK_REQUEST_TIMEOUT` after its first byte is answered 408
/// and closed, and ``WebhookAdmissionPolicy`` caps connections (in all, the oldest making room for
/// the newest, and per non-loopback address). On shutdown the listener quiesces: idle connections
/// close, deliveries in flight are answered first.
final class WebhookServer: Service, Sendable, CustomStringConvertible {
    static let path = "/api/webhooks/quickbooks"
    static let maximumBody = 1 << 20
    static let readTimeout: TimeAmount = .seconds(10)
    static let admissionPolicy = WebhookAdmissionPolicy.standard

    var description: String { "WebhookServer(\(boundAddress))" }

    private let server: HTTPServer
    /// `HOST:PORT` as bound (the port is real even when the setting asked for 0).
    let boundAddress: String

    private init(server: HTTPServer, settings: Settings) {
        self.server = server
        let local = server.localAddress
        if let path = local?.pathname {
            boundAddress = "unix:\(path)"
        } else {
            boundAddress = ListenAddress(host: local?.ipAddress ?? settings.webhookListen.host, port: local?.port ?? 0).description
        }
    }

    /// Binds `QBSYNCD_WEBHOOK_LISTEN`, or adopts the `webhook` socket systemd passed. Events that a
    /// crash left unextracted are extracted first, so the log is whole before anyone asks.
    static func bind(
        settings: Settings, inheritedFD: Int32? = nil, intake: WebhookIntake, state: DaemonState, health: StoreHealth, metrics: DaemonMetrics,
        scrape: @escaping @Sendable () async -> Void, logger: Logger
    ) async throws -> WebhookServer {
        await intake.expandListed()
        let connections = WebhookConnectionRegistry(policy: admissionPolicy, metrics: metrics, logger: logger)
        let configuration = HTTPServerConfiguration(
            target: inheritedFD.map { .descriptor($0) } ?? .address(host: settings.webhookListen.host, port: settings.webhookListen.port),
            maximumBodySize: maximumBody, idleTimeout: readTimeout, requestTimeout: .seconds(Int64(settings.webhookRequestTimeoutSeconds)),
            validatesResponseHeaders: false,  // every header the responder writes is a constant
            backlog: 4096,
            admit: { connections.admit($0) }
        )
        let responder = WebhookResponder(intake: intake, state: state, health: health, metrics: metrics, scrape: scrape, logger: logger)
        let server = WebhookServer(server: try await HTTPServer.bind(configuration, responder: responder, logger: logger), settings: settings)
        logger.info("webhook listener bound", metadata: [LogKey.address: "\(server.boundAddress)"])
        return server
    }

    func run() async throws {
        try await server.run()
    }
}
