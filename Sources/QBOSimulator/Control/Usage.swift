import Foundation
import QBSyncCore

/// The app's CorePlus meter for one calendar month (UTC) of the simulator's clock: metered calls
/// per realm, entity writes, and metered calls refused once the quota was spent.
struct UsageMeter: Sendable, Codable, Equatable {
    /// `YYYY-MM`.
    var month: String
    var metered = 0
    var byRealm: [String: Int] = [:]
    var writes = 0
    var refused = 0

    /// `YYYY-MM` (UTC), as the daemon's budget counts it.
    static func month(of date: Date) -> String { ReadBudget.month(of: date) }
}

/// What one Accounting API request costs: CorePlus (metered) calls and entity writes.
struct CallCost {
    var metered = 0
    var writes = 0

    static let entitySegments: Set<String> = ["customer", "invoice", "item", "payment", "account"]

    /// Reads of an entity (companyinfo included), queries (GET or POST) and CDC are metered, and so
    /// is each Query item of a batch; entity POSTs (void and delete included) and batch entity items
    /// are writes. Anything else (an unsupported path) is neither.
    init(_ request: SimRequest, rest: [String]) {
        let segment = rest.first?.lowercased() ?? ""
        switch (request.method, segment, rest.count) {
        case (.GET, "companyinfo", 2), (.GET, "query", 1), (.POST, "query", 1), (.GET, "cdc", 1): metered = 1
        case (.GET, _, 2) where Self.entitySegments.contains(segment): metered = 1
        case (.POST, _, 1) where Self.entitySegments.contains(segment): writes = 1
        case (.POST, "batch", 1):
            let items = (try? JSONDecoder().decode(JSONValue.self, from: request.body))?["BatchItemRequest"]?.arrayValue ?? []  // try?: a body that is not JSON has no items
            for case .object(let item) in items {
                if item["Query"] != nil { metered += 1 } else { writes += 1 }
            }
        default: break
        }
    }
}

extension SimState {
    /// The meter of the simulator's current month; a new month starts from zero.
    mutating func currentUsage() -> UsageMeter {
        let month = UsageMeter.month(of: now())
        if usage.month != month { usage = UsageMeter(month: month) }
        return usage
    }

    /// Counts an admitted Accounting API request. Answers Intuit's 429 (with the monthly-limit
    /// wording) when its metered calls would go past the month's quota; writes are never refused.
    mutating func meter(_ request: SimRequest, realmID: String, rest: [String]) -> SimResponse? {
        let cost = CallCost(request, rest: rest)
        guard cost.metered > 0 || cost.writes > 0 else { return nil }
        _ = currentUsage()
        if cost.metered > 0, configuration.readQuota > 0, usage.metered + cost.metered > configuration.readQuota {
            // A batch is refused whole when its queries do not all fit (Intuit's behaviour unconfirmed).
            usage.refused += cost.metered
            return IntuitFault.monthlyLimitReached()
        }
        usage.metered += cost.metered
        if cost.metered > 0 { usage.byRealm[realmID, default: 0] += cost.metered }
        usage.writes += cost.writes
        return nil
    }

    /// `GET /sim/usage`.
    mutating func usageReport() -> JSONValue {
        let usage = currentUsage()
        return [
            "month": .string(usage.month), "metered": .int(Int64(usage.metered)),
            "byRealm": .object(usage.byRealm.mapValues { .int(Int64($0)) }), "writes": .int(Int64(usage.writes)),
            "quota": .int(Int64(configuration.readQuota)), "refused": .int(Int64(usage.refused)),
            "webhooksLost": .int(Int64(webhooksLost)),
        ]
    }
}
