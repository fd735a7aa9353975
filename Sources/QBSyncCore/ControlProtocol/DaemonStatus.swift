/// The result of `daemon.status`. Counters of capabilities that are not built yet report 0.
public struct DaemonStatus: Sendable, Equatable, Codable {
    public struct Integration: Sendable, Equatable, Codable {
        public var enabled: Bool
        public var missing: [String]
        public var environment: String
        public init(enabled: Bool, missing: [String], environment: String) {
            self.enabled = enabled
            self.missing = missing
            self.environment = environment
        }
    }

    public struct Orgs: Sendable, Equatable, Codable {
        public var total: Int
        public var connected: Int
        public var needsReauthorization: Int
        public init(total: Int, connected: Int, needsReauthorization: Int) {
            self.total = total
            self.connected = connected
            self.needsReauthorization = needsReauthorization
        }
    }

    public struct Webhook: Sendable, Equatable, Codable {
        public var listen: String
        public var accepted: Int
        public var rejected: Int
        /// Added: changes the reconciler found in Intuit's CDC feed, those no webhook had reported,
        /// and their ratio (the webhook channel's measured loss).
        public var reconciledChanges: Int
        public var missedByWebhooks: Int
        public var lossRate: Double
        /// Added in 0.2: events in signed deliveries that could not be parsed (stored, shown as failed).
        public var unparsed: Int
        /// Added: accepted deliveries that repeated a stored one, acknowledged without a second copy.
        public var duplicates: Int
        public init(
            listen: String, accepted: Int, rejected: Int, reconciledChanges: Int = 0, missedByWebhooks: Int = 0, unparsed: Int = 0, duplicates: Int = 0
        ) {
            self.unparsed = unparsed
            self.duplicates = duplicates
            self.listen = listen
            self.accepted = accepted
            self.rejected = rejected
            self.reconciledChanges = reconciledChanges
            self.missedByWebhooks = missedByWebhooks
            lossRate = reconciledChanges == 0 ? 0 : (Double(missedByWebhooks) / Double(reconciledChanges) * 10_000).rounded() / 10_000
        }
    }

    public struct Events: Sendable, Equatable, Codable {
        public var pending: Int
        public var failed: Int
        public init(pending: Int, failed: Int) {
            self.pending = pending
            self.failed = failed
        }
    }

    /// Added to the contract's fields: what the settings file did last (SIGHUP reloads).
    public struct Config: Sendable, Equatable, Codable {
        public var path: String
        public var loadedAt: String
        public var reloads: Int
        public var lastReloadError: String?
        public init(path: String, loadedAt: String, reloads: Int, lastReloadError: String?) {
            self.path = path
            self.loadedAt = loadedAt
            self.reloads = reloads
            self.lastReloadError = lastReloadError
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(path, forKey: .path)
            try c.encode(loadedAt, forKey: .loadedAt)
            try c.encode(reloads, forKey: .reloads)
            try c.encode(lastReloadError, forKey: .lastReloadError)
        }
    }

    public var version: String
    public var startedAt: String
    public var uptimeSeconds: Int
    public var integration: Integration
    public var orgs: Orgs
    public var webhook: Webhook
    public var events: Events
    public var config: Config
    /// Added: control connections open now, and how many of them subscribed.
    public var controlConnections: Int
    public var subscribers: Int
    /// 0.2: the app-wide read budget, and the per-company pipeline.
    public var quota: QuotaStatus
    public var pipeline: PipelineStatus

    public init(
        version: String, startedAt: String, uptimeSeconds: Int, integration: Integration, orgs: Orgs,
        webhook: Webhook, events: Events, config: Config, controlConnections: Int, subscribers: Int, quota: QuotaStatus, pipeline: PipelineStatus
    ) {
        self.quota = quota
        self.pipeline = pipeline
        self.version = version
        self.startedAt = startedAt
        self.uptimeSeconds = uptimeSeconds
        self.integration = integration
        self.orgs = orgs
        self.webhook = webhook
        self.events = events
        self.config = config
        self.controlConnections = controlConnections
        self.subscribers = subscribers
    }
}
