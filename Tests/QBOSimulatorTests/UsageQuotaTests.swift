import Foundation
import QBSyncCore
import QBTestSupport
import Testing

/// The app-wide CorePlus quota (spec/simulator.md, "Added in 0.2"): metered reads counted across
/// companies per month of the simulator's clock, refused past the quota, writes never.
@Suite(.timeLimit(.minutes(2))) struct UsageQuotaTests {
    static let monthlyLimitDetail = "<Detail>CorePlus monthly limit reached for this app. Try again next month</Detail>"

    @Test func readsAcrossCompaniesCountAgainstTheMonthlyQuotaAndWritesStillWork() async throws {
        let f = try await SimFixture.start(environment: ["QBOSIM_READ_QUOTA": "5"])
        defer { f.cleanUp() }
        let (client, first) = (f.client, f.grant)
        let otherRealm = try await client.post("/sim/companies", json: ["name": "Second Co"]).json["realmId"]!.stringValue!
        let second = try await client.connect(realmID: otherRealm)
        let a = "/v3/company/\(first.realmID)"
        let b = "/v3/company/\(otherRealm)"

        // Writes and refused calls are not metered.
        let customer = try await client.post(a + "/customer", json: ["DisplayName": "Quota Co"], token: first.access).json["Customer"]!
        #expect(try await client.get(a + "/companyinfo/\(first.realmID)").status == 401)
        #expect(try await client.get(a + "/companyinfo/\(first.realmID)", token: second.access).status == 403)
        var usage = try await client.get("/sim/usage").json
        #expect(usage["metered"] == 0)
        #expect(usage["writes"] == 1)
        #expect(usage["quota"] == 5)

        // Five metered calls in two companies: a read, a query, CDC, companyinfo, a POSTed query.
        #expect(try await client.get(a + "/customer/\(customer["Id"]!.stringValue!)", token: first.access).status == 200)
        #expect(try await client.get(a + "/query?query=select%20*%20from%20Customer", token: first.access).status == 200)
        #expect(try await client.get(a + "/cdc?entities=Customer&changedSince=\(Timestamp.string(Date().addingTimeInterval(-60)))", token: first.access).status == 200)
        #expect(try await client.get(b + "/companyinfo/\(otherRealm)", token: second.access).status == 200)
        let posted = try await client.send(
            .POST, b + "/query", headers: [("Authorization", "Bearer \(second.access)"), ("Content-Type", "application/text")], body: Data("select * from Item".utf8)
        )
        #expect(posted.status == 200)
        usage = try await client.get("/sim/usage").json
        #expect(usage["metered"] == 5)
        #expect(usage["byRealm"] == .object([first.realmID: 3, otherRealm: 2]))

        // The sixth is refused in every company, with the throttle's shape and its own wording.
        let refused = try await client.get(b + "/companyinfo/\(otherRealm)", token: second.access)
        #expect(refused.status == 429)
        #expect(refused.text.contains("<Fault type=\"SERVICE\"><Error code=\"3001\""))
        #expect(refused.text.contains(Self.monthlyLimitDetail))
        #expect(!refused.text.contains("The request limit was reached"), "a client can tell it from the per-minute throttle")
        let batchQuery = try await client.post(a + "/batch", json: ["BatchItemRequest": [["bId": "1", "Query": "select * from Customer"]]], token: first.access)
        #expect(batchQuery.status == 429, "a batch's Query items are metered calls")
        let mixed = try await client.post(
            a + "/batch", json: ["BatchItemRequest": [["bId": "1", "operation": "create", "Customer": ["DisplayName": "Never Made"]], ["bId": "2", "Query": "select * from Item"]]],
            token: first.access
        )
        #expect(mixed.status == 429, "a batch whose queries do not fit is refused whole")

        // Writes still work, alone or in a batch.
        let written = try await client.post(a + "/customer", json: ["DisplayName": "Still Writing"], token: first.access)
        #expect(written.status == 200)
        let batchWrite = try await client.post(a + "/batch", json: ["BatchItemRequest": [["bId": "1", "operation": "create", "Customer": ["DisplayName": "Batch Writer"]]]], token: first.access)
        #expect(batchWrite.json["BatchItemResponse"]?.arrayValue?.first?["Customer"]?["DisplayName"] == "Batch Writer")
        usage = try await client.get("/sim/usage").json
        #expect(usage["metered"] == 5)
        #expect(usage["refused"] == 3)
        #expect(usage["writes"] == 3, "the refused batch wrote nothing")
        let names = try await client.get("/sim/companies/\(first.realmID)").json["customers"]?.arrayValue?.compactMap { $0["DisplayName"]?.stringValue }
        #expect(names == ["Quota Co", "Still Writing", "Batch Writer"])

        // The next month of the simulator's clock starts from zero.
        let now = try #require(Timestamp.parse(try await client.post("/sim/clock", json: ["advanceSeconds": 0]).json["now"]?.stringValue ?? ""))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        let nextMonth = try #require(calendar.date(byAdding: .month, value: 1, to: calendar.date(from: calendar.dateComponents([.year, .month], from: now))!))
        _ = try await client.post("/sim/clock", json: ["advanceSeconds": .int(Int64(nextMonth.timeIntervalSince(now)) + 3600)])
        let refreshed = try await client.form("/oauth2/v1/tokens/bearer", [("grant_type", "refresh_token"), ("refresh_token", first.refresh)]).json
        let access = try #require(refreshed["access_token"]?.stringValue, "the old access token expired with the clock move")
        #expect(try await client.get(a + "/companyinfo/\(first.realmID)", token: access).status == 200)
        usage = try await client.get("/sim/usage").json
        let expectedMonth = String(format: "%04d-%02d", calendar.component(.year, from: nextMonth), calendar.component(.month, from: nextMonth))
        #expect(usage["month"] == .string(expectedMonth))
        #expect(usage["metered"] == 1)
        #expect(usage["byRealm"] == .object([first.realmID: 1]))
        #expect(usage["refused"] == 0)
        #expect(usage["writes"] == 0)
    }

    @Test func theMeterSurvivesARestartWithState() async throws {
        let keep = try TempDirectory(prefix: "qbsim-usage")
        defer { keep.remove() }
        let statePath = keep.file("sim.json")
        let first = try SimulatorProcess()
        defer { first.cleanUp() }
        try await first.start(extraEnvironment: ["QBOSIM_READ_QUOTA": "2"], statePath: statePath)
        var client = SimClient(base: first.baseURL)
        let grant = try await client.connect()
        let path = "/v3/company/\(grant.realmID)/companyinfo/\(grant.realmID)"
        #expect(try await client.get(path, token: grant.access).status == 200)
        #expect(try await client.get(path, token: grant.access).status == 200)
        #expect(try await first.stop() == 0)

        let second = try SimulatorProcess()
        defer { second.cleanUp() }
        try await second.start(extraEnvironment: ["QBOSIM_READ_QUOTA": "2"], statePath: statePath)
        client = SimClient(base: second.baseURL)
        #expect(try await client.get("/sim/usage").json["metered"] == 2)
        #expect(try await client.get(path, token: grant.access).status == 429, "the quota spent before the restart stays spent")
    }
}
