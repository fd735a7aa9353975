import Foundation
import QBSyncCore
import QBTestSupport
import Testing

/// Name lists made inactive as Intuit treats them (intuit-fidelity.md #5): renamed
/// `"<name> (deleted)"`, left out of default queries, not counted in the duplicate-name check;
/// the plain name back on reactivation (the simulator's choice: not captured at Intuit).
@Suite(.timeLimit(.minutes(2))) struct NameListDeactivationTests {
    typealias Fixture = AccountingContractTests.Fixture

    func names(_ answer: JSONValue, _ entity: String, _ field: String) -> [String] {
        (answer["QueryResponse"]?[entity]?.arrayValue ?? []).compactMap { $0[field]?.stringValue }
    }

    @Test func aDeactivatedCustomerIsRenamedHiddenAndItsNameFree() async throws {
        let f = try await Fixture.start()
        defer { f.cleanUp() }
        let customer = try #require(try await f.post("/customer", ["DisplayName": "Maple Court"]).json["Customer"])
        let id = try #require(customer["Id"])
        let inactive = try await f.post("/customer", ["Id": id, "SyncToken": "0", "sparse": true, "Active": false]).json["Customer"]
        #expect(inactive?["DisplayName"] == "Maple Court (deleted)")
        #expect(inactive?["FullyQualifiedName"] == "Maple Court (deleted)")
        #expect(inactive?["PrintOnCheckName"] == "Maple Court", "as in qbo_api's deactivate/employee.yml")
        #expect(inactive?["Active"] == false)

        #expect(names(try await f.query("SELECT * FROM Customer"), "Customer", "DisplayName").isEmpty, "default queries leave inactive rows out")
        #expect(names(try await f.query("SELECT * FROM Customer WHERE DisplayName = 'Maple Court'"), "Customer", "DisplayName").isEmpty)
        #expect(try await f.query("SELECT COUNT(*) FROM Customer")["QueryResponse"]?["totalCount"] == 0)
        #expect(names(try await f.query("SELECT * FROM Customer WHERE Active IN (true, false)"), "Customer", "DisplayName") == ["Maple Court (deleted)"])
        #expect(names(try await f.query("SELECT * FROM Customer WHERE Active = false"), "Customer", "DisplayName") == ["Maple Court (deleted)"])
        #expect(try await f.get("/customer/\(id.stringValue!)").json["Customer"]?["Active"] == false, "a read by id still finds it")

        // The name is free again.
        let second = try await f.post("/customer", ["DisplayName": "Maple Court"])
        #expect(second.status == 200)
        #expect(names(try await f.query("SELECT * FROM Customer"), "Customer", "DisplayName") == ["Maple Court"])

        // Reactivating the first while the second holds the name: 6240.
        let clash = try await f.post("/customer", ["Id": id, "SyncToken": inactive!["SyncToken"]!, "sparse": true, "Active": true])
        #expect(clash.json["Fault"]?["Error"]?.arrayValue?.first?["code"] == "6240")
        // With a name of its own it comes back under that name.
        let renamed = try await f.post("/customer", ["Id": id, "SyncToken": inactive!["SyncToken"]!, "sparse": true, "Active": true, "DisplayName": "Maple Court (old)"])
        #expect(renamed.json["Customer"]?["DisplayName"] == "Maple Court (old)")
        #expect(renamed.json["Customer"]?["Active"] == true)
    }

    @Test func reactivationTakesTheSuffixOff() async throws {
        let f = try await Fixture.start()
        defer { f.cleanUp() }
        let customer = try #require(try await f.post("/customer", ["DisplayName": "Birch House"]).json["Customer"])
        let id = try #require(customer["Id"])
        _ = try await f.post("/customer", ["Id": id, "SyncToken": "0", "sparse": true, "Active": false])
        let back = try await f.post("/customer", ["Id": id, "SyncToken": "1", "sparse": true, "Active": true]).json["Customer"]
        #expect(back?["DisplayName"] == "Birch House")
        #expect(back?["Active"] == true)
        #expect(names(try await f.query("SELECT * FROM Customer"), "Customer", "DisplayName") == ["Birch House"])
    }

    @Test func aDeactivatedItemIsRenamedHiddenAndItsNameFree() async throws {
        let f = try await Fixture.start()
        defer { f.cleanUp() }
        let item = try #require(try await f.post("/item", ["Name": "Service Charge", "Type": "Service", "IncomeAccountRef": ["value": "1"]]).json["Item"])
        let id = try #require(item["Id"])
        let inactive = try await f.post("/item", ["Id": id, "SyncToken": "0", "sparse": true, "Active": false]).json["Item"]
        #expect(inactive?["Name"] == "Service Charge (deleted)")
        #expect(names(try await f.query("SELECT * FROM Item WHERE Name = 'Service Charge'"), "Item", "Name").isEmpty)
        #expect(names(try await f.query("SELECT * FROM Item"), "Item", "Name") == ["Services", "Hours"])
        #expect(names(try await f.query("SELECT * FROM Item WHERE Name = 'Service Charge (deleted)' AND Active IN (true, false)"), "Item", "Name") == ["Service Charge (deleted)"])
        // A create under the plain name is no duplicate now.
        #expect(try await f.post("/item", ["Name": "Service Charge", "Type": "Service", "IncomeAccountRef": ["value": "1"]]).status == 200)
        let clash = try await f.post("/item", ["Id": id, "SyncToken": inactive!["SyncToken"]!, "sparse": true, "Active": true])
        #expect(clash.json["Fault"]?["Error"]?.arrayValue?.first?["code"] == "6240")
    }

    /// Only `\'` has a documented meaning; another backslash is kept with the character after it,
    /// and a value ending in a backslash escapes its own closing quote (quickbooks-ruby#345).
    @Test func queryStringsKnowOnlyTheQuoteEscape() async throws {
        let f = try await Fixture.start()
        defer { f.cleanUp() }
        _ = try await f.post("/customer", ["DisplayName": "O'Brien"])
        _ = try await f.post("/customer", ["DisplayName": #"Case b\foo"#])
        _ = try await f.post("/customer", ["DisplayName": #"Ends b\"#])
        #expect(names(try await f.query(#"SELECT * FROM Customer WHERE DisplayName = 'O\'Brien'"#), "Customer", "DisplayName") == ["O'Brien"])
        #expect(names(try await f.query(#"SELECT * FROM Customer WHERE DisplayName = 'Case b\foo'"#), "Customer", "DisplayName") == [#"Case b\foo"#])
        #expect(names(try await f.query(#"SELECT * FROM Customer WHERE DisplayName = 'Case b\\foo'"#), "Customer", "DisplayName").isEmpty, #"\\ is not one backslash"#)
        let unterminated = try await f.query(#"SELECT * FROM Customer WHERE DisplayName = 'Ends b\'"#)
        #expect(unterminated["Fault"]?["Error"]?.arrayValue?.first?["code"] == "4000")
        #expect(unterminated["Fault"]?["Error"]?.arrayValue?.first?["Detail"]?.stringValue?.contains("Lexical error") == true)
        #expect(names(try await f.query(#"SELECT * FROM Customer WHERE DisplayName LIKE 'Ends b%'"#), "Customer", "DisplayName") == [#"Ends b\"#])
    }
}
