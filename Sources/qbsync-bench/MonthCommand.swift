import ArgumentParser
import Foundation
import QBSyncCore

extension BenchCommand {
    /// `qbsync-bench month`: one simulated month per company count, through the daemon's planning code.
    struct Month: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Metered reads of a simulated month, against the budget and against 0.1's design.")

        @Option(help: "Company counts, comma-separated.") var companies: String = "100,1000,10000,20000"
        @Option(help: "Demands per company per month.") var demands: Int = 20
        @Option(help: "Share of webhooks lost.") var loss: Double = 0.01
        @Option(help: "The app's monthly budget of metered reads.") var budget: Int = 500_000
        @Option(help: "Seconds a company's webhooks coalesce.") var window: Double = 3
        @Option(help: "The sweep period in seconds (QBSYNCD_SWEEP_PERIOD).") var sweepPeriod: Double = 86_400
        @Option(help: "Seconds modelled instead of a whole month (for a live comparison).") var horizon: Double?
        @Option(help: "Seed.") var seed: UInt64 = 2026
        @Flag(help: "One JSON object per company count instead of the table.") var json = false

        func run() throws {
            let counts = companies.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            if !json {
                print("companies   reads/month  per company  % of budget  sweeps   events  refused  freshness p50/p99 s  catch-up p99/max h  uncaught  0.1 design reads   ratio  mid-month sweep period  state (forecast)")
            }
            for count in counts {
                var configuration = MonthModel.Configuration(companies: count)
                configuration.demandsPerCompany = demands
                configuration.webhookLoss = loss
                configuration.budget = budget
                configuration.window = window
                configuration.sweepPeriod = sweepPeriod
                configuration.horizon = horizon
                configuration.seed = seed
                let result = MonthModel(configuration: configuration).run()
                let fresh = Self.percentiles(result.freshness)
                let catchUp = Self.percentiles(result.catchUp)
                let period = result.midPlan.map { $0.period.isFinite ? String(format: "%.1f h", $0.period / 3600) : "shed" } ?? "?"
                if json {
                    let object: [String: Any] = [
                        "companies": count, "reads": result.reads, "sweep": result.byClass[.sweep] ?? 0, "event": result.byClass[.event] ?? 0,
                        "refused": result.refused, "freshnessP50": fresh.p50, "freshnessP99": fresh.p99, "catchUpP99": catchUp.p99, "catchUpMax": catchUp.max,
                        "uncaught": result.uncaught, "oldDesignReads": result.oldDesignReads, "lost": result.lost, "webhooks": result.webhooks,
                        "sweepPeriodHours": result.midPlan.map { $0.period.isFinite ? $0.period / 3600 : -1 } ?? -1,
                        "state": result.finalState.rawValue, "forecast": result.finalForecast,
                    ]
                    print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
                    continue
                }
                let line = [
                    String(format: "%9d", count), String(format: "%12d", result.reads), String(format: "%11.1f", Double(result.reads) / Double(max(count, 1))),
                    String(format: "%11.1f", Double(result.reads) * 100 / Double(max(budget, 1))), String(format: "%7d", result.byClass[.sweep] ?? 0),
                    String(format: "%8d", result.byClass[.event] ?? 0), String(format: "%7d", result.refused),
                    Self.pad(String(format: "%.1f / %.1f", fresh.p50, fresh.p99), 19),
                    Self.pad(String(format: "%.1f / %.1f", catchUp.p99 / 3600, catchUp.max / 3600), 18), String(format: "%8d", result.uncaught),
                    String(format: "%17d", result.oldDesignReads), String(format: "%7.1f", Double(result.oldDesignReads) / Double(max(result.reads, 1))),
                    Self.pad(period, 22), "\(result.finalState.rawValue) (\(result.finalForecast))",
                ]
                print(line.joined(separator: "  "))
            }
        }

        static func pad(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }

        static func percentiles(_ values: [Double]) -> (p50: Double, p99: Double, max: Double) {
            guard !values.isEmpty else { return (0, 0, 0) }
            let sorted = values.sorted()
            func at(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * q))] }
            return (at(0.5), at(0.99), sorted.last!)
        }
    }
}
