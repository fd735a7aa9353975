import Foundation
import GRDB
import QBControlClient
import QBOSimulator
import QBSyncCore
import QBTestSupport
import Synchronization
import Testing

/// kill -9 at random moments under mixed load, then check that nothing acknowledged was lost.
@Suite(.timeLimit(.minutes(60))) struct CrashCampaignTests {
    /// What the load did, as the clients saw it: the truth the daemon must agree with after a crash.
    final class Ledger: Sendable {
        struct State {
            var acknowledged: [String] = []
            var developments: [String: [String]] = [:]
            var demands: [String: [(id: String, development: String, pennies: Int)]] = [:]
            var synced: [String: [(id: String, qboID: String)]] = [:]
            var operations = 0
            var refreshes = 0
            var payments = 0
            var failures = 0
        }
        let state = Mutex(State())
        func record(_ change: (inout State) -> Void) { state.withLock { change(&$0); $0.operations += 1 } }
        var operations: Int { state.withLock { $0.operations } }
    }

    @Test func killNineUnderMixedLoadLosesNothing() async throws {
        let cycles = Campaign.scale(short: 4, long: 40)
        var random = Campaign.random("crash")
        let fleet = try await Fleet.start(orgs: Campaign.scale(short: 2, long: 4))
        defer { fleet.cleanUp() }
        let ledger = Ledger()
        var killedAfter: [Int] = []
        var restartMilliseconds: [Double] = []

        for cycle in 0..<cycles {
            let before = ledger.operations
            let killAt = before + 5 + Int(random.next() % 60)
            let seed = random.next()
            let load = Task { await Self.mixedLoad(fleet, ledger: ledger, cycle: cycle, seed: seed) }
            // The kill comes after a random number of completed operations: a moment chosen by the
            // load's progress, not by a clock.
            _ = try await eventually(timeout: .seconds(60), "load making progress") { ledger.operations >= killAt ? true : nil }
            fleet.daemon.signal(SIGKILL)
            #expect(try await fleet.daemon.waitForExit() == 128 + SIGKILL)
            load.cancel()
            await load.value
            killedAfter.append(ledger.operations - before)

            let started = ContinuousClock.now
            try await fleet.daemon.start()
            restartMilliseconds.append(milliseconds(ContinuousClock.now - started))
            try await verifyAfterRestart(fleet, ledger: ledger, cycle: cycle)
        }

        // Pending work resumes: every sync the clients tried is finished by trying again, once.
        let control = try await fleet.control()
        let snapshot = ledger.state.withLock { $0 }
        for (org, realmID) in fleet.orgs {
            for development in snapshot.developments[org] ?? [] {
                _ = try await retrying { try await control.call(CustomerSyncCall.self, .init(org: .test(org), development: Fleet.developmentInput(development))) }
            }
            for demand in snapshot.demands[org] ?? [] {
                _ = try await retrying {
                    try await control.call(InvoiceSyncCall.self, .init(org: .test(org), demand: Fleet.demandInput(demand.id, development: demand.development, pennies: demand.pennies)))
                }
            }
            let company = try await fleet.company(realmID)
            let names = company.customers.compactMap { $0["DisplayName"]?.stringValue }
            let numbers = company.invoices.compactMap { $0["DocNumber"]?.stringValue }
            #expect(Set(names) == Set((snapshot.developments[org] ?? []).map { "Court \($0)" }), "every development once in \(org)'s company")
            #expect(names.count == Set(names).count, "no customer twice")
            #expect(Set(numbers) == Set((snapshot.demands[org] ?? []).map { "SC-\($0.id)" }), "every demand once in \(org)'s company")
            #expect(numbers.count == Set(numbers).count, "no invoice twice")
        }

        // Payments made while the daemon was down reach it: Intuit's retried webhooks, then the
        // event processor, turn every paid invoice Paid.
        _ = try await fleet.http.post("/sim/webhooks/flush", json: [:])
        for (org, realmID) in fleet.orgs {
            let paid = Set(try await fleet.company(realmID).invoices.filter { $0["Balance"]?.intValue == 0 }.compactMap { $0["Id"]?.stringValue })
            _ = try await eventually(timeout: .seconds(60), "\(org): every invoice paid in QuickBooks is Paid") { () -> Bool? in
                _ = try await fleet.http.post("/sim/webhooks/flush", json: [:])
                let entities = try await control.call(EntityListCall.self, .init(org: .test(org), kind: .demand, limit: 500)).entities
                let shownPaid = Set(entities.filter { $0.status == .paid }.compactMap(\.qboId))
                return shownPaid == paid ? true : nil
            }
        }
        _ = try await eventually(timeout: .seconds(60), "no event left pending") { () -> Bool? in
            try await control.call(DaemonStatusCall.self).events.pending == 0 ? true : nil
        }
        let final = ledger.state.withLock { $0 }
        let sortedKills = killedAfter.sorted()
        let sortedRestarts = restartMilliseconds.sorted()
        Campaign.report(
            "Crash campaign: kill -9 under mixed load",
            [
                "\(cycles) kill -9 cycles over \(fleet.orgs.count) orgs; operations before each kill: median \(sortedKills[sortedKills.count / 2]), range \(sortedKills.first!)–\(sortedKills.last!)",
                "\(final.acknowledged.count) acknowledged webhook deliveries, all found in the log after every restart",
                "\(final.developments.values.map(\.count).reduce(0, +)) developments and \(final.demands.values.map(\.count).reduce(0, +)) demands tried; each exists once in QuickBooks after resuming",
                "\(final.refreshes) forced token refreshes, \(final.payments) payments in QuickBooks; no org lost its tokens; integrity_check ok every time",
                "restart to answering: median \(Int(sortedRestarts[sortedRestarts.count / 2])) ms, max \(Int(sortedRestarts.last!)) ms",
            ]
        )
    }

    /// After a restart: the file is sound, every acknowledged delivery is there, every org is
    /// still connected and can call QuickBooks, and no local entity has two QuickBooks records.
    func verifyAfterRestart(_ fleet: Fleet, ledger: Ledger, cycle: Int) async throws {
        #expect(try fleet.integrityCheck() == "ok", "cycle \(cycle)")
        let acknowledged = ledger.state.withLock { $0.acknowledged }
        let stored = Set(try await fleet.database().read { db in try Data.fetchAll(db, sql: "SELECT body FROM qb_webhook_deliveries") }.map { String(decoding: $0, as: UTF8.self) })
        let lost = acknowledged.filter { !stored.contains($0) }
        #expect(lost.isEmpty, "cycle \(cycle): \(lost.count) of \(acknowledged.count) acknowledged deliveries missing")

        let control = try await fleet.control()
        defer { Task { await control.close() } }
        let orgs = try await control.call(OrgListCall.self, .init()).orgs
        #expect(orgs.count == fleet.orgs.count)
        #expect(orgs.allSatisfy { $0.status == .connected }, "cycle \(cycle): \(orgs.map(\.status))")
        for (org, realmID) in fleet.orgs {
            let test = try await retrying { try await control.call(OrgTestCall.self, OrgParams(org: .test(org))) }
            #expect(test.ok, "cycle \(cycle): \(org) can still call QuickBooks")
            let company = try await fleet.company(realmID)
            let names = company.customers.compactMap { $0["DisplayName"]?.stringValue }
            let numbers = company.invoices.compactMap { $0["DocNumber"]?.stringValue }
            #expect(names.count == Set(names).count, "cycle \(cycle): a customer twice in \(org)'s company")
            #expect(numbers.count == Set(numbers).count, "cycle \(cycle): an invoice twice in \(org)'s company")
        }
    }

    /// Syncs, webhook deliveries, token refreshes, payments in QuickBooks and status polls, all at
    /// once, until cancelled (the daemon's death makes every call fail fast).
    static func mixedLoad(_ fleet: Fleet, ledger: Ledger, cycle: Int, seed: UInt64) async {
        await withTaskGroup(of: Void.self) { group in
            for (index, (org, _)) in fleet.orgs.enumerated() {
                group.addTask {
                    guard let control = try? await fleet.control() else { return }
                    var n = 0
                    while !Task.isCancelled {
                        n += 1
                        let development = "c\(cycle)-\(index)-\(n)"
                        let demand = "d\(cycle)-\(index)-\(n)"
                        let pennies = 10_000 + n * 7
                        // Recorded before the call: a call cut by the kill may still have reached QuickBooks.
                        ledger.record { $0.developments[org, default: []].append(development) }
                        guard (try? await control.call(CustomerSyncCall.self, .init(org: .test(org), development: Fleet.developmentInput(development)))) != nil else { return }
                        ledger.record { $0.demands[org, default: []].append((demand, development, pennies)) }
                        guard let mapping = try? await control.call(InvoiceSyncCall.self, .init(org: .test(org), demand: Fleet.demandInput(demand, development: development, pennies: pennies))),
                            let qboID = mapping.qboId
                        else { return }
                        ledger.record { $0.synced[org, default: []].append((demand, qboID)) }
                    }
                }
            }
            for poster in 0..<4 {
                group.addTask {
                    var n = 0
                    while !Task.isCancelled {
                        n += 1
                        // An unknown realm: stored and ignored, so the log is exercised without QuickBooks reads.
                        let body = #"{"eventNotifications":[{"realmId":"4620816365000000000","dataChangeEvent":{"entities":[{"name":"Invoice","id":"\#(cycle)-\#(poster)-\#(n)","operation":"Update","lastUpdated":"2026-11-25T10:00:00.000Z"}]}}]}"#
                        guard let status = try? await fleet.deliver(body) else { return }
                        if status == 200 { ledger.record { $0.acknowledged.append(body) } } else { ledger.record { $0.failures += 1 } }
                    }
                }
            }
            group.addTask {
                guard let control = try? await fleet.control() else { return }
                var random = SplitMix64(seed: seed)
                while !Task.isCancelled {
                    let org = fleet.orgs.pick(&random).org
                    guard (try? await control.call(TokenRefreshCall.self, OrgParams(org: .test(org)))) != nil else { return }
                    ledger.record { $0.refreshes += 1 }
                }
            }
            group.addTask {
                var random = SplitMix64(seed: seed &+ 1)
                while !Task.isCancelled {
                    let (org, realmID) = fleet.orgs.pick(&random)
                    guard let invoice = ledger.state.withLock({ $0.synced[org]?.randomElement(using: &random) }) else {
                        guard (try? await fleet.http.get("/sim/companies/\(realmID)")) != nil else { return }
                        continue
                    }
                    guard let reply = try? await fleet.http.post("/sim/companies/\(realmID)/invoices/\(invoice.qboID)/pay", json: [:]) else { return }
                    if reply.status == 200 { ledger.record { $0.payments += 1 } }
                }
            }
            group.addTask {
                guard let control = try? await fleet.control() else { return }
                while !Task.isCancelled {
                    guard (try? await control.call(DaemonStatusCall.self)) != nil else { return }
                }
            }
        }
    }
}
