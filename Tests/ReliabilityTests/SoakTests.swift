import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// Mixed load for a fixed time, with the daemon's memory, descriptors and control latency sampled
/// every second. Bounds (stated here and in the report): after the first quarter (warm-up), RSS
/// stays under 1.25 × its warm-up level + 8 MiB, and open descriptors under warm-up + 16; once
/// the load's clients are gone the descriptors return to within 16 of the idle count (HTTP
/// keep-alive connections to Intuit stay pooled for a while, by design).
@Suite(.timeLimit(.minutes(30))) struct SoakTests {
    struct Sample {
        var second: Int
        var rssKiB: Int
        var descriptors: Int
        var calls: Int
        var p50: Double
        var p99: Double
    }

    static func rssKiB(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        return status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }.flatMap { Int($0.split(separator: " ")[1]) } ?? 0
    }

    static func descriptors(_ pid: Int32) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count
    }

    @Test func mixedLoadHoldsMemoryDescriptorsAndLatency() async throws {
        let seconds = Int(Campaign.environment["QBSYNC_SOAK_SECONDS"] ?? "") ?? Campaign.scale(short: 20, long: 600)
        let fleet = try await Fleet.start(orgs: 3)
        defer { fleet.cleanUp() }
        let pid = fleet.daemon.pid
        let idleDescriptors = Self.descriptors(pid)
        let latencies = Locked([Double]())
        let counts = Locked((syncs: 0, deliveries: 0, churned: 0, errors: 0))
        let stop = Locked(false)
        var samples: [Sample] = []

        try await withThrowingTaskGroup(of: Void.self) { group in
            // Two status pollers: the latency a client sees, one call at a time.
            for _ in 0..<2 {
                group.addTask {
                    let control = try await fleet.control()
                    while !stop.withLock({ $0 }) {
                        let started = ContinuousClock.now
                        _ = try await control.call(DaemonStatusCall.self)
                        let elapsed = milliseconds(ContinuousClock.now - started)
                        latencies.withLock { $0.append(elapsed) }
                    }
                    await control.close()
                }
            }
            // Each org changes its invoices at about 2 per second (well inside Intuit's 500/min).
            for (org, _) in fleet.orgs {
                group.addTask {
                    let control = try await fleet.control()
                    _ = try await retrying { try await control.call(CustomerSyncCall.self, .init(org: .test(org), development: Fleet.developmentInput("\(org)-soak"))) }
                    var n = 0
                    while !stop.withLock({ $0 }) {
                        n += 1
                        let demand = Fleet.demandInput("\(org)-soak-\(n % 20)", development: "\(org)-soak", pennies: 10_000 + n)
                        do {
                            _ = try await control.call(InvoiceSyncCall.self, .init(org: .test(org), demand: demand))
                            counts.withLock { $0.syncs += 1 }
                        } catch {
                            counts.withLock { $0.errors += 1 }
                        }
                        await pause(milliseconds: 450)
                    }
                    await control.close()
                }
            }
            // Signed deliveries at about 100 per second, and some list reads.
            group.addTask {
                var n = 0
                while !stop.withLock({ $0 }) {
                    n += 1
                    let body = #"{"eventNotifications":[{"realmId":"4620816365000000000","dataChangeEvent":{"entities":[{"name":"Invoice","id":"soak-\#(n)","operation":"Update","lastUpdated":"2026-11-25T10:00:00.000Z"}]}}]}"#
                    if try await fleet.deliver(body) == 200 { counts.withLock { $0.deliveries += 1 } } else { counts.withLock { $0.errors += 1 } }
                    await pause(milliseconds: 10)
                }
            }
            // Connection churn: subscribers that come and go.
            group.addTask {
                while !stop.withLock({ $0 }) {
                    let client = try await fleet.control()
                    _ = try await client.call(SubscribeCall.self, .init(topics: ["invoice.status_changed"]))
                    _ = try await client.call(EventListCall.self, .init(limit: 50))
                    await client.close()
                    counts.withLock { $0.churned += 1 }
                    await pause(milliseconds: 50)
                }
            }
            // The sampler, once a second, until the time is up.
            let started = ContinuousClock.now
            var second = 0
            while ContinuousClock.now - started < .seconds(seconds) {
                await pause(milliseconds: 1000)
                second += 1
                let window = latencies.withLock { values -> [Double] in defer { values.removeAll(keepingCapacity: true) }; return values.sorted() }
                samples.append(
                    Sample(
                        second: second, rssKiB: Self.rssKiB(pid), descriptors: Self.descriptors(pid), calls: window.count,
                        p50: window.isEmpty ? 0 : window[window.count / 2], p99: window.isEmpty ? 0 : window[min(window.count - 1, window.count * 99 / 100)]
                    )
                )
            }
            stop.withLock { $0 = true }
            try await group.waitForAll()
        }

        let warmUp = max(1, samples.count / 4)
        let baselineRSS = samples[warmUp - 1].rssKiB
        let baselineFDs = samples[warmUp - 1].descriptors
        let steady = samples[warmUp...]
        let maxRSS = steady.map(\.rssKiB).max() ?? 0
        let maxFDs = steady.map(\.descriptors).max() ?? 0
        #expect(Double(maxRSS) <= Double(baselineRSS) * 1.25 + 8192, "RSS grew from \(baselineRSS) KiB to \(maxRSS) KiB")
        #expect(maxFDs <= baselineFDs + 16, "descriptors grew from \(baselineFDs) to \(maxFDs)")
        let settled = try await eventually(timeout: .seconds(20), "descriptors back near idle") { () -> Int? in
            let now = Self.descriptors(pid)
            return now <= idleDescriptors + 16 ? now : nil
        }
        #expect(fleet.daemon.isRunning)
        let totals = counts.withLock { $0 }
        #expect(totals.errors == 0, "no call failed under steady load")
        let firstQuarter = samples.prefix(warmUp)
        let lastQuarter = samples.suffix(warmUp)
        func medianOf(_ values: [Double]) -> Double { median(values) ?? 0 }
        Campaign.report(
            "Soak: \(seconds) s of mixed load",
            [
                "\(fleet.orgs.count) orgs; \(totals.syncs) invoice syncs, \(totals.deliveries) signed deliveries, \(totals.churned) subscriber connections opened and closed, \(samples.map(\.calls).reduce(0, +)) status calls; \(totals.errors) errors",
                "RSS: \(baselineRSS / 1024) MiB after warm-up, max \(maxRSS / 1024) MiB after it (bound: 1.25 × + 8 MiB), \(samples.last!.rssKiB / 1024) MiB at the end",
                "descriptors: \(idleDescriptors) idle, \(baselineFDs) after warm-up, max \(maxFDs) (bound: +16), \(settled) once the clients left (bound: idle + 16)",
                String(format: "control latency, medians of per-second p50/p99: first quarter %.2f / %.2f ms, last quarter %.2f / %.2f ms", medianOf(firstQuarter.map(\.p50)), medianOf(firstQuarter.map(\.p99)), medianOf(lastQuarter.map(\.p50)), medianOf(lastQuarter.map(\.p99))),
            ]
        )
    }
}
