import Foundation
import QBSyncCore
import Testing

/// What counts as an edit made in QuickBooks, the rule behind an invoice status, and how a drift
/// conflict reaches the caller.
@Suite struct DriftAndStatusRuleTests {
    let pushed = PushedFields([
        "status": "Active", "TotalAmt": "1350.00", "Line": ["1250.10", "99.90"], "CustomerRef": "58", "DueDate": "2099-12-31", "DocNumber": "SC-1",
    ])

    @Test func onlyTheFieldsThatDifferAreChangesStatusFirst() {
        var now = pushed
        #expect(pushed.changes(to: now).isEmpty)
        now.values["TotalAmt"] = "0.00"
        now.values["Line"] = ["0.00", "0.00"]
        now.values["status"] = "Voided"
        #expect(pushed.changes(to: now).map(\.field) == ["status", "Line", "TotalAmt"])
        #expect(pushed.changes(to: now).first == FieldChange(field: "status", pushed: "Active", now: "Voided"))
    }

    @Test func aFieldTheReadDoesNotCarryIsNotCompared() {
        var row = pushed
        row.values.removeValue(forKey: "CustomerRef")
        row.values.removeValue(forKey: "Line")
        #expect(pushed.changes(to: row).isEmpty)
        row.values["DueDate"] = .null
        #expect(pushed.changes(to: row) == [FieldChange(field: "DueDate", pushed: "2099-12-31", now: .null)])
    }

    @Test func theRuleNamesWhyAndAgreesWithTheStatus() {
        let cases: [(Money, Money, String?, Bool, EntityStatus, String)] = [
            (Money(minorUnits: 100), Money(minorUnits: 100), "2026-12-01", true, .voided, "voided or deleted in QuickBooks → Voided"),
            (Money(minorUnits: 100), .zero, "2020-01-01", false, .paid, "Balance 0 and TotalAmt > 0 → Paid"),
            (Money(minorUnits: 100), Money(minorUnits: 40), "2026-12-01", false, .overdue, "DueDate 2026-12-01 before 2026-12-02 with Balance > 0 → Overdue"),
            (Money(minorUnits: 100), Money(minorUnits: 40), "2026-12-02", false, .outstanding, "Balance > 0 and DueDate 2026-12-02 not before 2026-12-02 → Outstanding"),
            (.zero, .zero, nil, false, .outstanding, "TotalAmt 0 with nothing to pay → Outstanding"),
        ]
        for (total, balance, due, gone, status, rule) in cases {
            let evaluated = InvoiceStatusRule.evaluate(total: total, balance: balance, dueDate: due, gone: gone, today: "2026-12-02")
            #expect(evaluated.status == status)
            #expect(evaluated.rule == rule)
            #expect(EntityStatus.invoice(total: total, balance: balance, dueDate: due, voided: gone, today: "2026-12-02") == status)
        }
    }

    @Test func aDriftConflictCarriesTheChanges() throws {
        let change = FieldChange(field: "TotalAmt", pushed: "1350.00", now: "1000.00")
        let error = QBSyncError.conflict(detail: "edited", changes: [change]).rpcError
        #expect(error.code == 1012 && error.reason == "conflict")
        #expect(error.data["changes"] == [["field": "TotalAmt", "pushed": "1350.00", "now": "1000.00"]])
        #expect(QBSyncError.conflict(detail: "voided").rpcError.data["changes"] == nil)
    }

    @Test func aMappingAlwaysCarriesRealmIdAndDrift() throws {
        let plain = Mapping(
            org: OrgID("acme")!, kind: .demand, localId: "dem-1", qboType: "Invoice", qboId: "130", syncToken: "0", status: .outstanding, docNumber: nil,
            totalAmount: nil, balance: nil, dueDate: nil, lastSyncedAt: nil, lastError: nil
        )
        let json = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(plain))
        #expect(json["realmId"] == .null && json["drift"] == .null)
        var drifted = plain
        drifted.realmId = "9341"
        drifted.drift = Drift(detectedAt: Date(timeIntervalSince1970: 1_800_000_000), changes: [FieldChange(field: "DueDate", pushed: "2099-12-31", now: "2099-06-30")])
        let encoded = try JSONEncoder().encode(drifted)
        #expect(try JSONDecoder().decode(JSONValue.self, from: encoded)["drift"]?["detectedAt"] == "2027-01-15T08:00:00Z")
        #expect(try JSONDecoder().decode(Mapping.self, from: encoded) == drifted)
    }
}
