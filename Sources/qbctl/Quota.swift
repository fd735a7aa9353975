import ArgumentParser
import Foundation
import QBControlClient
import QBSyncCore

extension Qbctl {
    /// `qbctl quota`: the app-wide budget of Intuit's metered reads (`quota.show`).
    struct Quota: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show this month's metered QuickBooks reads against the app's budget.",
            discussion: """
                Intuit counts reads (entity reads, queries, the change feed) for the whole app, per calendar month: \
                500,000 on the Builder tier. Past the budget every read is blocked until the next month. \
                Sweeps stop first (at budget − reserve − 5 %), then event-driven reads (at budget − reserve); \
                operator reads (invoice refresh, org test) use the reserve. Writes are never refused.
                """
        )

        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let result = try await options.call(QuotaShowCall.self)
            options.present(result.json) { quota in
                let byClass = quota["byClass"]
                let summary = Table.render(
                    [
                        ["month", "\(quota["month"]?.stringValue ?? "?") (resets \(quota["resetsAt"]?.stringValue ?? "?"))"],
                        ["used", QuotaText.summary(quota)],
                        ["by class", "sweeps \(QuotaText.number(byClass?["sweep"])), events \(QuotaText.number(byClass?["event"])), operators \(QuotaText.number(byClass?["operator"]))"],
                        ["reserve", "\(QuotaText.number(quota["reserve"])) for operators"],
                        ["sweeps", QuotaText.sweeps(quota)],
                    ],
                    header: nil
                )
                let realms = quota["byRealm"]?.arrayValue ?? []
                guard !realms.isEmpty else { return summary }
                let rows = realms.map { [$0["realmId"]?.stringValue ?? "?", $0["org"]?.stringValue ?? "-", QuotaText.number($0["reads"])] }
                return summary + "\n\n" + Table.render(rows, header: ["COMPANY", "ORG", "READS"])
            }
        }
    }
}

/// How qbctl words the read budget.
enum QuotaText {
    static func number(_ value: JSONValue?) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.locale = Locale(identifier: "en_US")
        return formatter.string(from: NSNumber(value: value?.intValue ?? 0)) ?? "0"
    }

    /// `1,234 of 500,000 (0.2 %), forecast 37,020: ok`.
    static func summary(_ quota: JSONValue?) -> String {
        guard let quota else { return "?" }
        let budget = quota["budget"]?.intValue ?? 0
        let used = quota["used"]?.intValue ?? 0
        let state = quota["state"]?.stringValue ?? "?"
        guard budget > 0 else { return "\(number(quota["used"])) this month (no budget set)" }
        let percent = String(format: "%.1f", Double(used) * 100 / Double(budget))
        return "\(number(quota["used"])) of \(number(quota["budget"])) (\(percent) %), forecast \(number(quota["forecast"])): \(Badge.paint(state))"
    }

    static func sweeps(_ quota: JSONValue) -> String {
        guard let period = quota["sweepPeriodSeconds"]?.intValue else { return "shed: the budget leaves nothing for catch-up sweeps" }
        let stretch = quota["sweepStretch"].flatMap { if case .double(let d) = $0 { d } else { $0.intValue.map(Double.init) } } ?? 1
        return "every company at least every \(Table.duration(period))" + (stretch > 1.001 ? String(format: " (stretched ×%.2f to fit the budget)", stretch) : "")
    }
}
