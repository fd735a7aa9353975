public import Foundation

/// When each company's change feed is read for catch-up (a sweep), so that a change whose webhook
/// was lost is found, within what the read budget leaves for sweeps.
///
/// Any read of a company's feed (an event-driven one too) covers every change since its
/// watermark, so a sweep is due only a whole period after the company's last read of any kind:
/// an active company is read at every burst of its webhooks and is rarely swept at all; an idle
/// one is swept once a period. A company where the feed found a change no webhook reported
/// (a suspected loss) is swept every quarter period until a sweep finds nothing missed.
///
/// When the month's sweeps at the configured period would not fit the budget, the period
/// stretches (catch-up is the first promise to give); when nothing is left for sweeps they stop.
public struct SweepPlan: Sendable, Equatable {
    /// The configured period (`QBSYNCD_SWEEP_PERIOD`).
    public var basePeriod: TimeInterval
    /// The period in force after fitting the budget (≥ `basePeriod`; `.infinity`: sweeps shed).
    public var period: TimeInterval
    /// Expected sweeps for the rest of the month at `period`.
    public var plannedSweeps: Int
    /// Reads the budget leaves for sweeps for the rest of the month.
    public var allowance: Int

    public init(basePeriod: TimeInterval, period: TimeInterval, plannedSweeps: Int, allowance: Int) {
        self.basePeriod = basePeriod
        self.period = period
        self.plannedSweeps = plannedSweeps
        self.allowance = allowance
    }

    /// How much the period had to stretch (1 = not at all).
    public var stretch: Double { period / basePeriod }

    /// Companies never read are spread over at most this long (a first deploy of thousands).
    public static let initialSpread: TimeInterval = 3600

    /// Fits the sweep period to the budget.
    /// - Parameters:
    ///   - companies: connected companies.
    ///   - budget: this month's counts.
    ///   - now: the wall clock.
    public static func fit(basePeriod: TimeInterval, companies: Int, budget: ReadBudget, now: Date) -> SweepPlan {
        let monthEnd = ReadBudget.monthEnd(of: budget.month)
        let remainingDays = max(0, monthEnd.timeIntervalSince(now)) / 86_400
        let elapsedDays = max(ReadBudget.minimumForecastBasis, now.timeIntervalSince(ReadBudget.monthStart(of: budget.month))) / 86_400
        let n = Double(max(companies, 0))
        // Event-driven reads per company per day so far this month (operator reads are few and taken from the reserve).
        let lambda = n == 0 ? 0 : Double(budget.used[.event] ?? 0) / n / elapsedDays
        let baseDays = basePeriod / 86_400
        func demand(_ periodDays: Double) -> Double { n * sweepsPerDay(eventRate: lambda, periodDays: periodDays) * remainingDays }
        guard budget.budget > 0 else {
            return SweepPlan(basePeriod: basePeriod, period: basePeriod, plannedSweeps: Int(demand(baseDays).rounded()), allowance: .max)
        }
        let projectedEvents = Double(budget.used[.event] ?? 0) / elapsedDays * remainingDays
        let allowance = Double(budget.limit(for: .sweep) - budget.total) - projectedEvents
        if allowance <= 0 {
            return SweepPlan(basePeriod: basePeriod, period: .infinity, plannedSweeps: 0, allowance: max(0, Int(allowance)))
        }
        if demand(baseDays) <= allowance {
            return SweepPlan(basePeriod: basePeriod, period: basePeriod, plannedSweeps: Int(demand(baseDays).rounded()), allowance: Int(allowance))
        }
        // The demand falls as the period grows: bisect for the shortest period that fits.
        var low = baseDays
        var high = max(baseDays, 1) * 2
        while demand(high) > allowance && high < 3650 { high *= 2 }
        for _ in 0..<50 {
            let middle = (low + high) / 2
            if demand(middle) > allowance { low = middle } else { high = middle }
        }
        return SweepPlan(basePeriod: basePeriod, period: high * 86_400, plannedSweeps: Int(demand(high).rounded()), allowance: Int(allowance))
    }

    /// Expected sweeps per company per day, when event-driven reads arrive at `eventRate` a day
    /// (Poisson) and a sweep comes a whole period after the last read of any kind: the gaps
    /// between reads are min(Exp(λ), p), so reads run at λ / (1 − e^(−λp)) a day.
    public static func sweepsPerDay(eventRate lambda: Double, periodDays p: Double) -> Double {
        guard p > 0, p.isFinite else { return 0 }
        guard lambda > 1e-9 else { return 1 / p }
        let idle = exp(-lambda * p)
        return lambda * idle / (1 - idle)
    }

    /// One company as the sweep sees it.
    public struct Company: Sendable, Equatable {
        public var realmID: String
        /// The last read of its feed, of any kind.
        public var lastReadAt: Date?
        /// The last read found a change no webhook had reported.
        public var suspectedLoss: Bool
        public init(realmID: String, lastReadAt: Date?, suspectedLoss: Bool) {
            self.realmID = realmID
            self.lastReadAt = lastReadAt
            self.suspectedLoss = suspectedLoss
        }
    }

    /// When the company's next sweep is due (`.distantFuture` when sweeps are shed).
    /// A company never read is due within ``initialSpread`` of `firstSeen`, spread by its realm id.
    public func dueAt(_ company: Company, firstSeen: Date) -> Date {
        guard period.isFinite else { return .distantFuture }
        guard let last = company.lastReadAt else {
            return firstSeen.addingTimeInterval(Self.spread(company.realmID) * min(Self.initialSpread, basePeriod))
        }
        let wait = company.suspectedLoss ? min(period, basePeriod / 4) : period
        return last.addingTimeInterval(wait)
    }

    /// A stable fraction in [0, 1) from a realm id (FNV-1a), so restarts keep the spread.
    public static func spread(_ realmID: String) -> Double {
        Double(FNV1a.hash(realmID.utf8) % 1_000_000) / 1_000_000
    }
}
