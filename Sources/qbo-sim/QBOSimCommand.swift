import ArgumentParser
import Foundation
import Logging
import QBOSimulator
import ServiceLifecycle

/// `qbo-sim`: Intuit's OAuth2 server, Accounting API and webhooks, on one port (spec/simulator.md).
@main
struct QBOSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qbo-sim", abstract: "A faithful QuickBooks Online (Intuit) simulator for tests, demos and benchmarks."
    )

    @Option(help: "HTTP listen address, HOST:PORT (port 0 picks a free port). Env QBOSIM_LISTEN.") var listen: String?
    @Option(name: .customLong("port-file"), help: "Written with the bound port once listening. Env QBOSIM_PORT_FILE.") var portFile: String?
    @Option(name: .customLong("client-id"), help: "The registered app's client id. Env QUICKBOOKS_CLIENT_ID.") var clientID: String?
    @Option(name: .customLong("client-secret"), help: "Its client secret. Env QUICKBOOKS_CLIENT_SECRET.") var clientSecret: String?
    @Option(name: .customLong("redirect-uri"), help: "The registered redirect URI (exact match). Env QUICKBOOKS_REDIRECT_URI.") var redirectURI: String?
    @Option(name: .customLong("verifier-token"), help: "HMAC key of the webhooks sent. Env QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN.") var verifierToken: String?
    @Option(name: .customLong("webhook-url"), help: "Where webhooks go (none: none are sent). Env QBOSIM_WEBHOOK_URL.") var webhookURL: String?
    @Option(name: .customLong("webhook-format"), help: "classic or cloudevents. Env QBOSIM_WEBHOOK_FORMAT.") var webhookFormat: String?
    @Option(name: .customLong("access-token-ttl"), help: "Seconds. Env QBOSIM_ACCESS_TTL.") var accessTTL: Int?
    @Option(name: .customLong("refresh-token-ttl"), help: "Seconds. Env QBOSIM_REFRESH_TTL.") var refreshTTL: Int?
    @Option(name: .customLong("state"), help: "A JSON file that keeps companies, grants and tokens across restarts. Env QBOSIM_STATE.") var statePath: String?
    @Option(name: .customLong("read-quota"), help: "CorePlus (metered) calls per month for the app; 0 is none. Env QBOSIM_READ_QUOTA.") var readQuota: Int?

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        func setting(_ flag: String?, _ name: String) -> String? {
            flag ?? env[name].flatMap { $0.isEmpty ? nil : $0 }
        }
        var missing: [String] = []
        func required(_ flag: String?, _ name: String, _ option: String) -> String {
            guard let value = setting(flag, name) else {
                missing.append("--\(option) (or \(name))")
                return ""
            }
            return value
        }
        var configuration = SimulatorConfiguration(
            clientID: required(clientID, "QUICKBOOKS_CLIENT_ID", "client-id"),
            clientSecret: required(clientSecret, "QUICKBOOKS_CLIENT_SECRET", "client-secret"),
            redirectURI: required(redirectURI, "QUICKBOOKS_REDIRECT_URI", "redirect-uri"),
            verifierToken: required(verifierToken, "QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN", "verifier-token")
        )
        guard missing.isEmpty else { throw ValidationError("qbo-sim needs the registered app: \(missing.joined(separator: ", "))") }
        configuration.webhookURL = setting(webhookURL, "QBOSIM_WEBHOOK_URL")
        if let format = setting(webhookFormat, "QBOSIM_WEBHOOK_FORMAT") {
            guard let parsed = WebhookFormat(rawValue: format.lowercased()) else { throw ValidationError("--webhook-format is classic or cloudevents") }
            configuration.webhookFormat = parsed
        }
        if let ttl = accessTTL ?? setting(nil, "QBOSIM_ACCESS_TTL").flatMap(Int.init) { configuration.accessTokenTTL = ttl }
        if let ttl = refreshTTL ?? setting(nil, "QBOSIM_REFRESH_TTL").flatMap(Int.init) { configuration.refreshTokenTTL = ttl }
        if let rate = setting(nil, "QBOSIM_DUPLICATE_RATE").flatMap(Double.init) { configuration.duplicateRate = rate }
        if let quota = readQuota ?? setting(nil, "QBOSIM_READ_QUOTA").flatMap(Int.init) {
            guard quota >= 0 else { throw ValidationError("--read-quota is 0 (none) or more") }
            configuration.readQuota = quota
        }
        if let rate = setting(nil, "QBOSIM_WEBHOOK_LOSS_RATE").flatMap(Double.init) {
            guard (0...1).contains(rate) else { throw ValidationError("QBOSIM_WEBHOOK_LOSS_RATE is from 0 to 1") }
            configuration.webhookLossRate = rate
        }
        configuration.webhookLossSeed = setting(nil, "QBOSIM_WEBHOOK_LOSS_SEED").flatMap(UInt64.init)
        // For tests of a client's catch-up only: Intuit's cap is 1,000.
        if let limit = setting(nil, "QBOSIM_CDC_LIMIT").flatMap(Int.init), limit > 0 { configuration.cdcLimit = limit }
        // Intuit's limits are the defaults; benchmarks of the simulator itself raise them.
        if let limit = setting(nil, "QBOSIM_REQUESTS_PER_MINUTE").flatMap(Int.init) { configuration.requestsPerMinute = limit }
        if let limit = setting(nil, "QBOSIM_CONCURRENT_REQUESTS").flatMap(Int.init) { configuration.concurrentRequests = limit }

        let address = setting(listen, "QBOSIM_LISTEN") ?? "127.0.0.1:8732"
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            throw ValidationError("--listen is HOST:PORT")
        }
        let host = String(address[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))

        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "qbo-sim")
        logger.logLevel = env["QBOSIM_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let simulator = Simulator(configuration: configuration, logger: logger)
        var services: [any Service] = []
        if let path = setting(statePath, "QBOSIM_STATE") {
            do {
                services.append(try simulator.persistence(at: path))
            } catch {
                throw ValidationError("--state \(path) cannot be read: \(error)")
            }
        }
        let server = try await SimHTTPServer.bind(host: host, port: port, logger: logger) { await simulator.handle($0) }
        let shownHost = host.contains(":") ? "[\(host)]" : host
        simulator.baseURL = "http://\(shownHost):\(server.port)"
        if let path = setting(portFile, "QBOSIM_PORT_FILE") {
            try String(server.port).write(toFile: path, atomically: true, encoding: .utf8)
        }
        // Written straight to fd 1 so a parent reading the pipe sees the line at once (no stdio buffer).
        FileHandle.standardOutput.write(Data("qbo-sim listening on \(simulator.baseURL)\ndefault company realmId=\(simulator.defaultRealmID)\n".utf8))
        let group = ServiceGroup(
            configuration: .init(services: [server, simulator.makeWebhookService()] as [any Service] + services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await group.run()
    }
}
