public import Foundation

/// One field of a QuickBooks record that differs from what qbsyncd last pushed there.
public struct FieldChange: Sendable, Hashable, Codable {
    /// Intuit's name for it (`TotalAmt`, `Line`, `CustomerRef`, `DueDate`, `DocNumber`,
    /// `DisplayName`, …), or `status` for a void, a delete or a deactivation.
    public var field: String
    public var pushed: JSONValue
    public var now: JSONValue

    public init(field: String, pushed: JSONValue, now: JSONValue) {
        self.field = field
        self.pushed = pushed
        self.now = now
    }
}

/// A record edited in QuickBooks since qbsyncd last pushed it (`Mapping.drift`).
public struct Drift: Sendable, Hashable, Codable {
    public var detectedAt: Date
    public var changes: [FieldChange]

    public init(detectedAt: Date, changes: [FieldChange]) {
        self.detectedAt = detectedAt
        self.changes = changes
    }

    enum CodingKeys: String, CodingKey { case detectedAt, changes }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Timestamp.string(detectedAt), forKey: .detectedAt)
        try c.encode(changes, forKey: .changes)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard let at = Timestamp.parse(try c.decode(String.self, forKey: .detectedAt)) else {
            throw DecodingError.dataCorruptedError(forKey: .detectedAt, in: c, debugDescription: "not an RFC 3339 timestamp")
        }
        detectedAt = at
        changes = try c.decode([FieldChange].self, forKey: .changes)
    }
}

/// The QuickBooks-side fields of a record as qbsyncd's last push left them (a compact
/// fingerprint kept per mapping): a later read of the record that differs in one of them is an
/// edit made in QuickBooks. Amounts are two-place decimal strings.
public struct PushedFields: Sendable, Hashable, Codable {
    public var values: [String: JSONValue]

    public init(_ values: [String: JSONValue]) { self.values = values }

    /// The fields of `now` that differ from these, in a stable order (`status` first). A field
    /// missing from either side is not compared (a read that does not carry it says nothing).
    public func changes(to now: PushedFields) -> [FieldChange] {
        let order = ["status"] + values.keys.filter { $0 != "status" }.sorted()
        return order.compactMap { field in
            guard let pushed = values[field], let current = now.values[field], pushed != current else { return nil }
            return FieldChange(field: field, pushed: pushed, now: current)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(values)
    }

    public init(from decoder: any Decoder) throws {
        values = try decoder.singleValueContainer().decode([String: JSONValue].self)
    }
}
