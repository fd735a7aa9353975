import Foundation
import QBSyncCore
import QBTestSupport
import Testing

/// The simulator's answers in the shapes of Intuit's real ones (shared/reference/intuit-samples,
/// recorded by others; provenance in its SOURCES.md): fault members, codes and statuses, time
/// formats, amount types. Each test reads the real file and the simulator's answer side by side.
@Suite(.timeLimit(.minutes(2))) struct RealSampleShapeTests {
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/reference/intuit-samples")

    static func sample(_ name: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: samples.appendingPathComponent(name)))
    }

    static func sampleText(_ name: String) throws -> String {
        try String(contentsOf: samples.appendingPathComponent(name), encoding: .utf8)
    }

    /// The first `Fault.Error` object's member names.
    static func errorKeys(_ json: JSONValue) -> Set<String> {
        guard case .object(let error)? = json["Fault"]?["Error"]?.arrayValue?.first else { return [] }
        return Set(error.keys)
    }

    /// A JSON number's value; nil for anything else (a string amount among them).
    static func number(_ value: JSONValue?) -> Double? {
        switch value {
        case .int(let int)?: return Double(int)
        case .double(let double)?: return double
        default: return nil
        }
    }

    /// Intuit's entity MetaData time: whole seconds and an offset.
    static var metaTime: Regex<Substring> { /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d/ }
    /// Intuit's envelope `time`: milliseconds and an offset.
    static var envelopeTime: Regex<Substring> { /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d/ }

    @Test func metaDataTimesHaveNoFractionAndEnvelopeTimesHaveMilliseconds() async throws {
        let real = try Self.sample("invoice-create-response.json")
        let realMeta = try #require(real["Invoice"]?["MetaData"]?["CreateTime"]?.stringValue)
        #expect(realMeta.wholeMatch(of: Self.metaTime) != nil)
        #expect(real["time"]?.stringValue?.wholeMatch(of: Self.envelopeTime) != nil)

        let f = try await AccountingContractTests.Fixture.start()
        defer { f.cleanUp() }
        let (customer, invoice) = try await f.customerAndInvoice()
        for entity in [customer, invoice] {
            for key in ["CreateTime", "LastUpdatedTime"] {
                let time = try #require(entity["MetaData"]?[key]?.stringValue)
                #expect(time.wholeMatch(of: Self.metaTime) != nil, "\(key) \(time) is shaped as \(realMeta)")
            }
        }
        let read = try await f.get("/invoice/\(invoice["Id"]!.stringValue!)").json
        #expect(read["time"]?.stringValue?.wholeMatch(of: Self.envelopeTime) != nil)
        #expect(read["Invoice"]?["MetaData"]?["LastUpdatedTime"]?.stringValue?.wholeMatch(of: Self.metaTime) != nil)
        let seeded = try await f.get("/item/1").json
        #expect(seeded["Item"]?["MetaData"]?["CreateTime"]?.stringValue?.wholeMatch(of: Self.metaTime) != nil)
    }

    /// Amounts are JSON numbers in both (Intuit writes `100.00`, the simulator `100`; the daemon
    /// reads either from the number's text).
    @Test func amountsAreNumbers() async throws {
        let real = try Self.sample("invoice-create-response.json")
        let f = try await AccountingContractTests.Fixture.start()
        defer { f.cleanUp() }
        let (_, invoice) = try await f.customerAndInvoice(amount: 100)
        for key in ["TotalAmt", "Balance"] {
            #expect(Self.number(real["Invoice"]?[key]) == 100)
            #expect(Self.number(invoice[key]) == 100)
        }
        #expect(Self.number(invoice["Line"]?.arrayValue?.first?["Amount"]) == 100)
    }

    @Test func aDuplicateNameFaultHasTheRealMembers() async throws {
        let real = try Self.sample("fault-validation-6240.json")
        let f = try await AccountingContractTests.Fixture.start()
        defer { f.cleanUp() }
        #expect(try await f.post("/customer", ["DisplayName": "Maple Court"]).status == 200)
        let again = try await f.post("/customer", ["DisplayName": "Maple Court"])
        #expect(again.status == 400)
        #expect(Self.errorKeys(again.json) == Self.errorKeys(real), "no element, as in the sample")
        #expect(again.json["Fault"]?["Error"]?.arrayValue?.first?["code"] == "6240")
        #expect(again.json["Fault"]?["type"] == real["Fault"]?["type"])
    }

    @Test func anUnknownEntityInAQueryIs4001() async throws {
        let real = try Self.sample("fault-query-4001.json")
        let f = try await AccountingContractTests.Fixture.start()
        defer { f.cleanUp() }
        let answer = try await f.query("SELECT * FROM Custmoer")
        let error = answer["Fault"]?["Error"]?.arrayValue?.first
        #expect(error?["code"] == real["Fault"]?["Error"]?.arrayValue?.first?["code"])
        #expect(error?["Message"] == "Invalid query")
        #expect(error?["Detail"] == real["Fault"]?["Error"]?.arrayValue?.first?["Detail"], "QueryValidationError: invalid context declaration: Custmoer")
        #expect(Self.errorKeys(answer) == Self.errorKeys(real))
        // A query Intuit's parser cannot read stays 4000 "Error parsing query".
        let unparsable = try await f.query("SELECT * FROM Customer WHERE")
        #expect(unparsable["Fault"]?["Error"]?.arrayValue?.first?["code"] == "4000")
        #expect(unparsable["Fault"]?["Error"]?.arrayValue?.first?["Message"] == "Error parsing query")
    }

    @Test func anUnknownPathIs400WithCode500() async throws {
        let real = try Self.sample("fault-unsupported-operation-500.json")
        let f = try await AccountingContractTests.Fixture.start()
        defer { f.cleanUp() }
        let answer = try await f.get("/customer/1/5")
        #expect(answer.status == 400)
        let error = answer.json["Fault"]?["Error"]?.arrayValue?.first
        #expect(error?["code"] == "500")
        #expect(error?["Message"] == real["Fault"]?["Error"]?.arrayValue?.first?["Message"])
        #expect(error?["Detail"]?.stringValue?.hasPrefix("Operation Could not find resource for relative : /v3/company/\(f.realm)/customer/1/5") == true)
        #expect(Self.errorKeys(answer.json) == Self.errorKeys(real))
    }

    /// 610 and 2500 for an inactive reference carry an empty `element`, as the samples do: nothing
    /// tells which reference it was.
    @Test func inactiveReferenceFaultsHaveTheRealMembers() async throws {
        let real610 = try Self.sample("fault-object-not-found-610-batch-item.json")
        let real2500 = try Self.sample("fault-invalid-reference-2500.json")
        let f = try await AccountingContractTests.Fixture.start()
        defer { f.cleanUp() }
        let (customer, invoice) = try await f.customerAndInvoice()
        let id = try #require(customer["Id"])
        #expect(try await f.post("/customer", ["Id": id, "SyncToken": customer["SyncToken"]!, "sparse": true, "Active": false]).status == 200)
        let update = try await f.post("/invoice", ["Id": invoice["Id"]!, "SyncToken": invoice["SyncToken"]!, "sparse": true, "PrivateNote": "x"])
        #expect(update.json["Fault"]?["Error"]?.arrayValue?.first?["code"] == "610")
        #expect(Self.errorKeys(update.json) == Self.errorKeys(real610))
        #expect(update.json["Fault"]?["Error"]?.arrayValue?.first?["element"] == "")
        #expect(update.json["Fault"]?["Error"]?.arrayValue?.first?["Detail"] == real610["Fault"]?["Error"]?.arrayValue?.first?["Detail"])
        let create = try await f.post("/invoice", ["CustomerRef": ["value": id], "Line": [["Amount": 5, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": ["ItemRef": ["value": "1"]]]]])
        #expect(create.json["Fault"]?["Error"]?.arrayValue?.first?["code"] == "2500")
        #expect(Self.errorKeys(create.json) == Self.errorKeys(real2500))
        #expect(create.json["Fault"]?["Error"]?.arrayValue?.first?["Detail"] == real2500["Fault"]?["Error"]?.arrayValue?.first?["Detail"])
    }

    @Test func theThrottleErrorHasNoElementAttribute() async throws {
        let real = try Self.sampleText("throttle-429.xml")
        #expect(real.contains(#"<Error code="3001">"#))
        let f = try await AccountingContractTests.Fixture.start()
        defer { f.cleanUp() }
        _ = try await f.client.post("/sim/faults", json: ["status": 429, "count": 1])
        let answer = try await f.get("/companyinfo/\(f.realm)")
        #expect(answer.status == 429)
        #expect(answer.text.contains(#"<Error code="3001">"#), "\(answer.text)")
        #expect(!answer.text.contains("element="))
    }
}
