/// How the simulator behaves: the one registered app, token lifetimes, Intuit's limits, webhooks.
public struct SimulatorConfiguration: Sendable {
    /// The registered app: only these credentials and this exact redirect URI are accepted.
    public var clientID: String
    public var clientSecret: String
    public var redirectURI: String
    /// The HMAC key of the webhooks it sends.
    public var verifierToken: String
    /// Where webhooks go; nil sends none.
    public var webhookURL: String?
    public var webhookFormat: WebhookFormat = .cloudEvents
    /// Share of webhook deliveries sent twice, as Intuit's retries do (0…1).
    public var duplicateRate: Double = 0
    /// Seconds of simulated time before queued webhooks are sent (Intuit batches; sandbox is near live).
    public var webhookDelay: Double = 0.05
    /// Share of changes never delivered by webhook (0…1), for benchmarks of a client's catch-up.
    public var webhookLossRate: Double = 0
    /// Seed of the loss draws (random when nil), so a benchmark replays with its seed.
    public var webhookLossSeed: UInt64?

    public var accessTokenTTL = 3600
    /// A refresh token value's validity (the rolling 100 days).
    public var refreshTokenTTL = 8_640_000
    /// A refresh inside this window returns the same refresh token; after it, a new one (Intuit: ~24 h).
    public var refreshRotationInterval = 86_400
    /// Every grant ends five years after it was first made (Intuit's 2025 policy).
    public var refreshTokenHardLifetime = 157_680_000
    /// Authorization codes are single use and live this long (Intuit: minutes; unconfirmed).
    public var authorizationCodeTTL = 300

    /// Intuit's per-realm limits.
    public var requestsPerMinute = 500
    public var concurrentRequests = 10
    public var batchItemsLimit = 30
    /// Objects in one CDC answer, across the entities asked for (Intuit: 1,000).
    public var cdcLimit = 1000
    /// CorePlus (metered) calls per calendar month for the whole app; 0 is no quota.
    public var readQuota = 0

    public init(clientID: String, clientSecret: String, redirectURI: String, verifierToken: String) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.redirectURI = redirectURI
        self.verifierToken = verifierToken
    }
}

/// The two webhook payload formats Intuit sends.
public enum WebhookFormat: String, Sendable, CaseIterable {
    case classic
    case cloudEvents = "cloudevents"
}
