public import Foundation

/// Who asks for one of Intuit's metered reads. Under a tight budget the lower classes are shed
/// first: sweeps, then event-driven reads; operator reads use the reserve last.
public enum ReadClass: String, Sendable, CaseIterable, Codable {
    /// Catch-up sweeps of the change feed (background work).
    case sweep
    /// Reads that webhook events and pushes need (the change feed of a company with events, a
    /// re-read after a stale-object fault, the service-item lookup).
    case event
    /// Reads an operator asked for: `invoice.refresh`, `org.test`, the CompanyInfo read of a connect.
    case `operator`
}

/// `ok`, `warning` (80 % of the budget, or a month-end forecast over it), `critical` (95 %) or
/// `exhausted` (nothing left for this caller's class and above).
public enum QuotaState: String, Sendable, Codable, Comparable {
    case ok, warning, critical, exhausted

    var rank: Int {
        switch self {
        case .ok: 0
        case .warning: 1
        case .critical: 2
        case .exhausted: 3
        }
    }

    public static func < (lhs: QuotaState, rhs: QuotaState) -> Bool { lhs.rank < rhs.rank }
}

/// The app-wide monthly budget of Intuit's metered ("CorePlus") calls, as a pure value: what has
/// been used this calendar month (UTC), what each class of caller may still use, the month-end
/// forecast and the state. The daemon persists `used` per month and class; this type decides.
///
/// Limits, with budget B and reserve R (percent of B):
/// - operator reads may use all of B;
/// - event-driven reads stop at B − R;
/// - sweeps stop at B − R − ``sweepMarginPercent`` % of B, so catch-up is shed before freshness.
public struct ReadBudget: Sendable, Equatable {
    /// Percent of the budget below the event limit where sweeps stop.
    public static let sweepMarginPercent = 5
    /// The forecast does not extrapolate from less than this much of a month (noise at its start).
    public static let minimumForecastBasis: TimeInterval = 6 * 3600

    /// The monthly budget; 0 means none (nothing is ever refused).
    public var budget: Int
    /// Percent of the budget kept for operator reads.
    public var reservePercent: Int
    /// `YYYY-MM` (UTC) the counts belong to.
    public private(set) var month: String
    /// Reads this month by class.
    public private(set) var used: [ReadClass: Int]
    /// Set when Intuit itself refused a read for the monthly limit: nothing more this month.
    public private(set) var refusedByIntuit: Bool

    public init(budget: Int, reservePercent: Int, month: String, used: [ReadClass: Int] = [:], refusedByIntuit: Bool = false) {
        self.budget = max(0, budget)
        self.reservePercent = min(max(0, reservePercent), 100)
        self.month = month
        self.used = used
        self.refusedByIntuit = refusedByIntuit
    }

    public var total: Int { used.values.reduce(0, +) }
    public var reserve: Int { budget * reservePercent / 100 }

    /// The most a class may have used, in total, before its reads are refused.
    public func limit(for readClass: ReadClass) -> Int {
        guard budget > 0 else { return .max }
        switch readClass {
        case .operator: return budget
        case .event: return budget - reserve
        case .sweep: return max(0, budget - reserve - budget * Self.sweepMarginPercent / 100)
        }
    }

    /// Whether one more read of this class is allowed now (no change is made).
    public func allows(_ readClass: ReadClass) -> Bool {
        if refusedByIntuit { return false }
        return total < limit(for: readClass)
    }

    public enum Decision: Sendable, Equatable {
        case granted
        case refused(QuotaRefusal)
    }

    /// Takes one read for a class if it is allowed; a new month starts the counts again.
    public mutating func take(_ readClass: ReadClass, now: Date) -> Decision {
        rollOver(now: now)
        guard allows(readClass) else { return .refused(refusal()) }
        used[readClass, default: 0] += 1
        return .granted
    }

    /// Intuit refused a read for the monthly limit: treat the month as spent, whatever we counted.
    public mutating func intuitRefused(now: Date) {
        rollOver(now: now)
        refusedByIntuit = true
    }

    /// Starts a new month's counts when `now` is past this one.
    public mutating func rollOver(now: Date) {
        let current = Self.month(of: now)
        guard current != month else { return }
        month = current
        used = [:]
        refusedByIntuit = false
    }

    /// Takes in the month's counts as the store holds them: every instance's reads, this one's
    /// among them (each class the larger of the two: this instance's latest may not be committed
    /// yet). Several instances share one app-wide budget, so each looks at the others' reads.
    public mutating func merge(stored: ReadBudget) {
        guard stored.month == month else { return }
        for (readClass, count) in stored.used { used[readClass] = max(used[readClass] ?? 0, count) }
        if stored.refusedByIntuit { refusedByIntuit = true }
    }

    public func refusal() -> QuotaRefusal {
        QuotaRefusal(used: total, budget: budget, month: month, resetsAt: Self.monthEnd(of: month))
    }

    /// Month-end total at the rate so far this month.
    public func forecast(now: Date) -> Int {
        let start = Self.monthStart(of: month)
        let end = Self.monthEnd(of: month)
        let elapsed = max(Self.minimumForecastBasis, now.timeIntervalSince(start))
        let length = end.timeIntervalSince(start)
        guard elapsed < length else { return total }
        return Int((Double(total) * length / elapsed).rounded())
    }

    public func state(now: Date) -> QuotaState {
        guard budget > 0 else { return .ok }
        if refusedByIntuit || total >= budget { return .exhausted }
        if total * 100 >= budget * 95 { return .critical }
        if total * 100 >= budget * 80 || forecast(now: now) > budget { return .warning }
        return .ok
    }

    /// `YYYY-MM` of a date, in UTC.
    public static func month(of date: Date) -> String {
        let components = utc.dateComponents([.year, .month], from: date)
        return String(format: "%04d-%02d", components.year ?? 1970, components.month ?? 1)
    }

    public static func monthStart(of month: String) -> Date {
        let parts = month.split(separator: "-").compactMap { Int($0) }
        let components = DateComponents(timeZone: .gmt, year: parts.first ?? 1970, month: parts.count > 1 ? parts[1] : 1, day: 1)
        return utc.date(from: components) ?? Date(timeIntervalSince1970: 0)
    }

    /// The first instant of the next month: when the budget resets.
    public static func monthEnd(of month: String) -> Date {
        utc.date(byAdding: .month, value: 1, to: monthStart(of: month)) ?? monthStart(of: month)
    }

    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        return calendar
    }()
}

/// Why a read was refused: `data` of the `read_quota_exhausted` error.
public struct QuotaRefusal: Sendable, Equatable, Codable {
    public var used: Int
    public var budget: Int
    public var month: String
    public var resetsAt: Date

    public init(used: Int, budget: Int, month: String, resetsAt: Date) {
        self.used = used
        self.budget = budget
        self.month = month
        self.resetsAt = resetsAt
    }
}
