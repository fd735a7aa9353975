import Foundation
import Testing
@testable import QBSyncCore

@Suite struct MoneyTests {
    struct Box: Decodable { var amount: Money }

    func decode(_ json: String) -> Money? {
        try? JSONDecoder().decode(Box.self, from: Data(#"{"amount":\#(json)}"#.utf8)).amount
    }

    @Test func stringsAndNumbersWithAtMostTwoPlaces() {
        #expect(decode(#""1250.00""#)?.minorUnits == 125_000)
        #expect(decode(#""0.1""#)?.minorUnits == 10)
        #expect(decode(#""7""#)?.minorUnits == 700)
        #expect(decode("1250.5")?.minorUnits == 125_050)
        #expect(decode("0.07")?.minorUnits == 7, "no binary float: 0.07 stays 7 minor units")
        #expect(decode("19.99")?.minorUnits == 1999)
        #expect(decode("1e2")?.minorUnits == 10_000)
    }

    @Test(arguments: [#""1.234""#, "1.234", #""-1.00""#, "-5", #""""#, #""1,000.00""#, #""abc""#, "true", "null", #"" 1.00""#, "1e-3", #""99999999999999.00""#])
    func anythingElseIsRefused(json: String) {
        #expect(decode(json) == nil, "\(json)")
    }

    @Test func printsTwoPlaces() {
        #expect(Money(minorUnits: 125_000).description == "1250.00")
        #expect(Money(minorUnits: 5).description == "0.05")
        #expect(Money(minorUnits: -250).description == "-2.50")
        #expect(Money(decimalString: "12.3")!.decimal == Decimal(string: "12.3"))
    }
}
