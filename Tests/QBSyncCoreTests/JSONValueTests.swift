import Foundation
import QBSyncCore
import Testing

/// `JSONValue` keeps each JSON kind apart whatever order it tries them in: a boolean is never a
/// number, a whole number never a double, a numeric string never a number.
@Suite struct JSONValueTests {
    @Test func everyKindDecodesAsItselfAndRoundTrips() throws {
        let text = #"{"s":"1","t":true,"f":false,"i":1,"n":-42,"d":1.5,"e":1e3,"z":null,"a":[1,"x",{"k":[]}],"o":{}}"#
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(value["s"] == .string("1"))
        #expect(value["t"] == .bool(true) && value["f"] == .bool(false))
        #expect(value["i"] == .int(1) && value["n"] == .int(-42))
        #expect(value["d"] == .double(1.5))
        #expect(value["e"] == .int(1000) || value["e"] == .double(1000))
        #expect(value["z"] == .null)
        #expect(value["a"] == .array([.int(1), .string("x"), .object(["k": .array([])])]))
        #expect(value["o"] == .object([:]))
        let again = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
        #expect(again == value)
    }

    @Test func scalarsAtTheTopLevel() throws {
        for (text, expected) in [("true", JSONValue.bool(true)), ("7", .int(7)), ("7.25", .double(7.25)), (#""7""#, .string("7")), ("null", .null)] {
            #expect(try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) == expected, "\(text)")
        }
    }
}
