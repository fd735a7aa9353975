/// An organisation's identifier in BlockManOS: 1–64 characters of letters, digits, `.`, `_` and `-`,
/// starting with a letter or digit.
///
/// It names rows, log fields and journal fields, so anything else is refused at the edge.
public struct OrgID: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
    public let rawValue: String

    /// Returns nil for a string that is not a valid organisation id.
    public init?(_ rawValue: String) {
        guard Self.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        guard Self.isValid(raw) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "an org id is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        }
        self.rawValue = raw
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    public static func < (lhs: OrgID, rhs: OrgID) -> Bool { lhs.rawValue < rhs.rawValue }

    static func isValid(_ raw: String) -> Bool {
        let bytes = Array(raw.utf8)
        guard (1...64).contains(bytes.count), let first = bytes.first, isAlphanumeric(first) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
