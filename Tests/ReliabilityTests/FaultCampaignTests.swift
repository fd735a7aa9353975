import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// Intuit failing at chosen rates while several orgs sync: everything converges to Intuit's truth.
@Suite(.timeLimit(.minutes(60))) struct FaultCampaignTests {
    /// The faults every company's API gets, as (rule, rate); a timeout is a delay past the daemon's 2 s allowance.
    static let apiFaults: [(JSONValue, Double)] = [
        (["status": 429, "retryAfter": 1], 0.04), (["status": 500], 0.05), (["status": 503], 0.03), (["status": 502], 0.02),
        (["delayMs": 2500], 0.02), (["fault": "drop"], 0.03), (["fault": "drop_after"], 0.04),
    ]

    @Test func syncsConvergeAndEachOrgEndsAsItsFaultsImply() async throws {
        let perOrg = Campaign.scale(short: 10, long: 40)
        let fleet = try await Fleet.start(
            orgs: Campaign.scale(short: 4, long: 6),
            daemonEnvironment: ["QUICKBOOKS_TIMEOUT": "2", "QBSYNCD_RECONCILE_INTERVAL": "2", "QBSYNCD_RECONCILE_GRACE": "0"]
        )
        defer { fleet.cleanUp() }
        let control = try await fleet.control()
        var random = Campaign.random("faults")
        let victim = fleet.orgs.last!.org
        let syncing = fleet.orgs.dropLast()

        // The victim's next refresh is refused as Intuit refuses a dead grant: it must reconnect, and only it.
        _ = try await fleet.http.post("/sim/faults", json: ["fault": "invalid_grant", "count": 1])
        await #expect(throws: ControlClientError.self) { try await control.call(TokenRefreshCall.self, OrgParams(org: .test(victim))) }
        #expect(try await control.call(OrgShowCall.self, OrgParams(org: .test(victim))).status.rawValue == "needs_reauthorization")

        for (rule, rate) in Self.apiFaults {
            guard case .object(var body) = rule else { continue }
            body.merge(["path": "/v3/company/", "rate": .double(rate), "seed": .int(Int64(random.next() >> 1)), "count": 1_000_000]) { _, new in new }
            #expect(try await fleet.http.post("/sim/faults", json: .object(body)).status == 200)
        }
        _ = try await fleet.http.post("/sim/faults", json: ["path": "/oauth2/v1/tokens/bearer", "status": 502, "rate": 0.2, "seed": .int(Int64(random.next() >> 1)), "count": 1_000_000])

        // Each org creates, then changes half of, its developments and demands, as a client that
        // calls again on rate_limited and qbo_unavailable would; forced refreshes run beside.
        let started = ContinuousClock.now
        let outcome = try await withThrowingTaskGroup(of: (calls: Int, refused: Int).self) { group in
            for (org, _) in syncing {
                group.addTask {
                    let control = try await fleet.control()
                    var calls = 0
                    for n in 0..<perOrg {
                        _ = try await retrying { calls += 1; return try await control.call(CustomerSyncCall.self, .init(org: .test(org), development: Fleet.developmentInput("\(org)-dev-\(n)"))) }
                        _ = try await retrying {
                            calls += 1
                            return try await control.call(InvoiceSyncCall.self, .init(org: .test(org), demand: Fleet.demandInput("\(org)-dem-\(n)", development: "\(org)-dev-\(n)", pennies: 5_000 + n)))
                        }
                    }
                    for n in stride(from: 0, to: perOrg, by: 2) {
                        _ = try await retrying {
                            calls += 1
                            return try await control.call(InvoiceSyncCall.self, .init(org: .test(org), demand: Fleet.demandInput("\(org)-dem-\(n)", development: "\(org)-dev-\(n)", pennies: 9_000 + n)))
                        }
                    }
                    return (calls, 0)
                }
            }
            group.addTask {
                let control = try await fleet.control()
                var refused = 0
                for (org, _) in syncing {
                    for _ in 0..<5 {
                        do { _ = try await control.call(TokenRefreshCall.self, OrgParams(org: .test(org))) } catch { refused += 1 }
                    }
                }
                return (0, refused)
            }
            return try await group.reduce(into: (calls: 0, refused: 0)) { $0.calls += $1.calls; $0.refused += $1.refused }
        }
        let syncSeconds = milliseconds(ContinuousClock.now - started) / 1000

        // QuickBooks users pay and void some invoices while Intuit still fails now and then.
        var paid = 0
        var voided = 0
        for (_, realmID) in syncing {
            let invoices = try await fleet.company(realmID).invoices
            for invoice in invoices {
                guard let id = invoice["Id"]?.stringValue else { continue }
                switch random.next() % 4 {
                case 0: _ = try await fleet.http.post("/sim/companies/\(realmID)/invoices/\(id)/pay", json: [:]); paid += 1
                case 1: _ = try await fleet.http.post("/sim/companies/\(realmID)/invoices/\(id)/void", json: [:]); voided += 1
                default: break
                }
            }
        }
        let faults = try await fleet.http.get("/sim/faults").json
        #expect(try await fleet.http.send(.DELETE, "/sim/faults").status == 200)
        let injected = faults["injected"]?.intValue ?? 0

        // Catch-up: Intuit's retried webhooks and the reconciler bring every invoice to Intuit's truth.
        for (org, realmID) in syncing {
            let company = try await fleet.company(realmID)
            #expect(company.customers.count == perOrg, "\(org): one customer per development")
            #expect(company.invoices.count == perOrg, "\(org): one invoice per demand")
            let truth = Dictionary(uniqueKeysWithValues: company.invoices.map { invoice in
                let status = invoice["voided"] == true ? "Voided" : invoice["Balance"]?.intValue == 0 ? "Paid" : "Outstanding"
                return (invoice["Id"]?.stringValue ?? "", status)
            })
            let amounts = Dictionary(uniqueKeysWithValues: company.invoices.map { ($0["Id"]?.stringValue ?? "", $0["TotalAmt"] ?? .null) })
            _ = try await eventually(timeout: .seconds(90), "\(org): every invoice as QuickBooks has it") { () -> Bool? in
                _ = try await fleet.http.post("/sim/webhooks/flush", json: [:])
                let entities = try await control.call(EntityListCall.self, .init(org: .test(org), kind: .demand, limit: 500)).entities
                let shown = Dictionary(uniqueKeysWithValues: entities.map { ($0.qboId ?? "", $0.status.rawValue) })
                return shown == truth ? true : nil
            }
            let entities = try await control.call(EntityListCall.self, .init(org: .test(org), kind: .demand, limit: 500)).entities
            for entity in entities where entity.status != .voided {
                let qbo = amounts[entity.qboId ?? ""]
                #expect(qbo.flatMap(Self.decimal) == entity.totalAmount.flatMap { Decimal(string: $0.description) }, "\(org): \(entity.localId) total as QuickBooks has it")
            }
        }

        // Each org ends as its faults imply: the victim must reconnect, the others never stopped being connected.
        let orgs = try await control.call(OrgListCall.self, .init()).orgs
        for org in orgs {
            #expect(org.status == (org.org.rawValue == victim ? .needsReauthorization : .connected), "\(org)")
        }
        do {
            _ = try await control.call(CustomerSyncCall.self, .init(org: .test(victim), development: Fleet.developmentInput("late")))
            Issue.record("a sync for an org that must reconnect went through")
        } catch {
            #expect(rpcReason(error) == "needs_reauthorization")
        }
        #expect(try await fleet.company(fleet.orgs.last!.realmID).customers.isEmpty, "nothing reached the victim's company")

        Campaign.report(
            "Fault campaign: Intuit failing at chosen rates",
            [
                "\(syncing.count) orgs × \(perOrg) developments and demands, half changed again; \(outcome.calls) sync calls by clients that retry",
                "rates on every API call: 429 4%, 500 5%, 503 3%, 502 2%, timeout 2%, dropped 3%, answer lost after the work 4%; token endpoint 502 20%",
                "\(injected) faults injected; \(outcome.refused) of \(syncing.count * 5) forced refreshes refused, and every such org stayed connected",
                "syncing under faults took \(String(format: "%.1f", syncSeconds)) s; \(paid) payments and \(voided) voids in QuickBooks; every invoice converged to QuickBooks' status and total",
                "one invalid_grant: exactly that org needs reauthorization; its company got nothing",
            ]
        )
    }

    static func decimal(_ value: JSONValue) -> Decimal? {
        switch value {
        case .int(let value): Decimal(value)
        case .double(let value): Decimal(string: String(value))
        case .string(let value): Decimal(string: value)
        default: nil
        }
    }
}
