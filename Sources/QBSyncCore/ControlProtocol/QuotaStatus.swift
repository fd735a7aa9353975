/// `quota` in `daemon.status` and `quota.show`: the app-wide budget of Intuit's metered reads.
public struct QuotaStatus: Sendable, Equatable, Codable {
    public struct ByClass: Sendable, Equatable, Codable {
        public var sweep: Int
        public var event: Int
        public var `operator`: Int
        public init(sweep: Int, event: Int, operator: Int) {
            self.sweep = sweep
            self.event = event
            self.operator = `operator`
        }
    }

    /// `YYYY-MM` (UTC).
    public var month: String
    public var used: Int
    /// 0: no budget.
    public var budget: Int
    /// Reads kept for operators.
    public var reserve: Int
    /// Month-end total at the rate so far.
    public var forecast: Int
    /// `ok`, `warning`, `critical` or `exhausted`.
    public var state: String
    /// Added: when the month's count starts again (RFC 3339).
    public var resetsAt: String
    /// Added: this month's reads by who asked for them.
    public var byClass: ByClass
    /// Added: the sweep period in force, after fitting the budget (nil: sweeps are shed).
    public var sweepPeriodSeconds: Int?
    /// Added: how far the sweep period stretched beyond `QBSYNCD_SWEEP_PERIOD` (1: not at all).
    public var sweepStretch: Double

    public init(
        month: String, used: Int, budget: Int, reserve: Int, forecast: Int, state: String, resetsAt: String, byClass: ByClass, sweepPeriodSeconds: Int?,
        sweepStretch: Double
    ) {
        self.month = month
        self.used = used
        self.budget = budget
        self.reserve = reserve
        self.forecast = forecast
        self.state = state
        self.resetsAt = resetsAt
        self.byClass = byClass
        self.sweepPeriodSeconds = sweepPeriodSeconds
        self.sweepStretch = sweepStretch
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(month, forKey: .month)
        try c.encode(used, forKey: .used)
        try c.encode(budget, forKey: .budget)
        try c.encode(reserve, forKey: .reserve)
        try c.encode(forecast, forKey: .forecast)
        try c.encode(state, forKey: .state)
        try c.encode(resetsAt, forKey: .resetsAt)
        try c.encode(byClass, forKey: .byClass)
        try c.encode(sweepPeriodSeconds, forKey: .sweepPeriodSeconds)
        try c.encode(sweepStretch, forKey: .sweepStretch)
    }

    enum CodingKeys: String, CodingKey { case month, used, budget, reserve, forecast, state, resetsAt, byClass, sweepPeriodSeconds, sweepStretch }
}

/// `pipeline` in `daemon.status`: the per-company event pipeline.
public struct PipelineStatus: Sendable, Equatable, Codable {
    /// Companies with a change-feed read running now.
    public var realmsActive: Int
    /// Webhook events waiting to be settled.
    public var eventsQueued: Int
    /// Age of the oldest of them (0 when none).
    public var oldestPendingSeconds: Int
    /// Added: companies waiting for a slot, their coalescing window or a retry.
    public var realmsWaiting: Int

    public init(realmsActive: Int, eventsQueued: Int, oldestPendingSeconds: Int, realmsWaiting: Int) {
        self.realmsActive = realmsActive
        self.eventsQueued = eventsQueued
        self.oldestPendingSeconds = oldestPendingSeconds
        self.realmsWaiting = realmsWaiting
    }
}
