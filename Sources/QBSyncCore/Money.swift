public import Foundation

/// An amount of money in integer minor units (pence, cents). Travels as a decimal string with two
/// places ("1250.00"); never as a binary float.
public struct Money: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    public var minorUnits: Int64

    /// QuickBooks amounts have at most 15 significant digits; this keeps far inside that.
    public static let maximumMinorUnits: Int64 = 99_999_999_999_99

    public init(minorUnits: Int64) { self.minorUnits = minorUnits }

    /// Parses `123`, `123.4` or `123.45`: digits, at most two places, not negative.
    public init?(decimalString text: String) {
        guard let match = text.wholeMatch(of: /([0-9]{1,13})(?:\.([0-9]{1,2}))?/) else { return nil }
        let whole = Int64(match.1)!
        let fraction = match.2.map { $0.count == 1 ? Int64($0)! * 10 : Int64($0)! } ?? 0
        let value = whole * 100 + fraction
        guard value <= Self.maximumMinorUnits else { return nil }
        minorUnits = value
    }

    /// An exact decimal (from JSON number text) with at most two places.
    public init?(exactly decimal: Decimal) {
        guard decimal.isFinite, decimal >= 0 else { return nil }
        var scaled = decimal * 100
        var rounded = Decimal()
        NSDecimalRound(&rounded, &scaled, 0, .plain)
        guard rounded == scaled, rounded <= Decimal(Self.maximumMinorUnits) else { return nil }
        minorUnits = NSDecimalNumber(decimal: rounded).int64Value
    }

    /// The decimal value, for writing exact JSON numbers to QuickBooks.
    public var decimal: Decimal { Decimal(minorUnits) / 100 }

    public var description: String {
        let sign = minorUnits < 0 ? "-" : ""
        let magnitude = minorUnits.magnitude
        let fraction = magnitude % 100
        return "\(sign)\(magnitude / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    public static func < (lhs: Money, rhs: Money) -> Bool { lhs.minorUnits < rhs.minorUnits }
    public static func + (lhs: Money, rhs: Money) -> Money { Money(minorUnits: lhs.minorUnits + rhs.minorUnits) }
    public static let zero = Money(minorUnits: 0)

    /// Accepts a decimal string or a JSON number with at most two places; anything else is a
    /// decoding error (which the dispatcher reports as `invalid_params` with the field).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {  // try?: not a string: a number below
            guard let money = Money(decimalString: text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "must be a non-negative amount with at most two decimal places, e.g. \"1250.00\"")
            }
            self = money
            return
        }
        guard let decimal = try? container.decode(Decimal.self), let money = Money(exactly: decimal) else {  // try?: neither is the error below
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "must be a non-negative amount with at most two decimal places, e.g. \"1250.00\"")
        }
        self = money
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
