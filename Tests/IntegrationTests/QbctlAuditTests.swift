import Foundation
import QBSyncCore
import QBTestSupport
import Testing

/// `qbctl invoice explain` and `qbctl audit verify` through the real binaries.
@Suite(.timeLimit(.minutes(3))) struct QbctlAuditTests {
    /// A daemon and simulator with acme connected, its development and first demand pushed.
    static func pairWithOneInvoice() async throws -> Pair {
        let pair = try await Pair.start()
        do {
            _ = try await pair.connect("acme")
            _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
            _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput()))
            return pair
        } catch {
            pair.cleanUp()
            throw error
        }
    }

    @Test func explainShowsTheHistoryAndTheRule() async throws {
        let pair = try await Self.pairWithOneInvoice()
        defer { pair.cleanUp() }
        let socket = pair.daemon.socketPath
        _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(amounts: ["1300.00"])))
        _ = try await pair.control.call(InvoiceRefreshCall.self, DemandParams(org: .test("acme"), demandId: "dem-1"))

        let table = try await qbctl(["invoice", "explain", "acme", "dem-1"], socket: socket)
        #expect(table.status == 0, "\(table.stderr)")
        let lines = table.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first?.hasPrefix("demand   dem-1 in acme: Invoice ") == true, "\(table.stdout)")
        #expect(lines.contains("status   Outstanding") && lines.contains("rebuilt  Outstanding (matches the stored status)"), "\(table.stdout)")
        #expect(lines.contains { $0.hasPrefix("rule     ") && $0.hasSuffix("→ Outstanding") }, "\(table.stdout)")
        let header = try #require(lines.firstIndex { $0.hasPrefix("AT ") })
        #expect(lines[header].contains("STEP") && lines[header].contains("STATUS") && lines[header].contains("DETAIL"))
        let steps = lines[(header + 1)...].filter { !$0.isEmpty }
        #expect(steps.filter { $0.contains(" push ") }.count == 2, "\(table.stdout)")
        #expect(steps.contains { $0.contains(" push ") && $0.contains("SyncToken 0, requestid ") && $0.contains("hash ") && $0.contains("total 1250.10") })
        #expect(steps.contains { $0.contains(" push ") && $0.contains("SyncToken 1") && $0.contains("total 1300.00") })
        #expect(steps.last?.contains(" refresh ") == true, "oldest first: \(table.stdout)")

        let json = try parsed(try await qbctl(["invoice", "explain", "acme", "dem-1", "--json"], socket: socket))
        #expect(json["status"] == "Outstanding" && json["rebuilt"] == "Outstanding" && json["mapping"]?["localId"] == "dem-1")
        #expect(json["chain"]?.arrayValue?.compactMap { $0["kind"]?.stringValue } == ["push", "push", "refresh"])

        let unknown = try await qbctl(["invoice", "explain", "acme", "dem-404"], socket: socket)
        #expect(unknown.status == 1 && unknown.stderr.contains("(not_found)"), "\(unknown.stderr)")
    }

    @Test func auditVerifyExitsOneAndListsAStatusChangedBehindTheDaemonsBack() async throws {
        let pair = try await Self.pairWithOneInvoice()
        defer { pair.cleanUp() }
        let socket = pair.daemon.socketPath
        _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(id: "dem-2", docNumber: "SC-2", dueDate: "2020-01-01")))

        let clean = try await qbctl(["audit", "verify"], socket: socket)
        #expect(clean.status == 0 && clean.stdout == "checked 2 invoices: every stored status matches its history\n", "\(clean.stdout)\(clean.stderr)")
        let cleanJSON = try await qbctl(["audit", "verify", "acme", "--json"], socket: socket)
        #expect(cleanJSON.status == 0)
        #expect(try parsed(cleanJSON)["checked"] == 2 && (try parsed(cleanJSON))["mismatches"] == [])
        #expect(try await qbctl(["audit", "verify", "other"], socket: socket).stdout == "checked 0 invoices: every stored status matches its history\n")

        // Someone changes a stored status with sqlite3 (or psql), behind the daemon's back.
        let sql = try await TestStore.outcomes(pair.daemon, statements: ["UPDATE qb_entity_mappings SET status = 'Paid' WHERE kind = 'demand' AND local_id = 'dem-1'"])
        #expect(sql == ["allowed"], "\(sql)")

        let found = try await qbctl(["audit", "verify", "acme"], socket: socket)
        #expect(found.status == 1, "mismatches exit 1")
        #expect(found.stderr == "qbctl: 1 stored invoice status differs from the history\n", "\(found.stderr)")
        let lines = found.stdout.split(separator: "\n")
        #expect(lines.first == "checked 2 invoices: 1 differ", "\(found.stdout)")
        #expect(lines.count == 3 && lines[1].hasPrefix("ORG   DEMAND  STORED  REBUILT      RULE"), "\(found.stdout)")
        #expect(lines.last?.hasPrefix("acme  dem-1   Paid    Outstanding  ") == true && lines.last?.hasSuffix("→ Outstanding") == true, "\(found.stdout)")
        let foundJSON = try await qbctl(["audit", "verify", "--json"], socket: socket)
        #expect(foundJSON.status == 1)
        let mismatch = try parsed(foundJSON)["mismatches"]?.arrayValue?.first
        #expect(mismatch?["demandId"] == "dem-1" && mismatch?["stored"] == "Paid" && mismatch?["rebuilt"] == "Outstanding")

        let explained = try await qbctl(["invoice", "explain", "acme", "dem-1"], socket: socket)
        #expect(explained.stdout.contains("status   Paid\n") && explained.stdout.contains("rebuilt  Outstanding (DIFFERS from the stored status)\n"), "\(explained.stdout)")
    }
}
