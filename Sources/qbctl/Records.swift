import Foundation
import QBSyncCore

/// How qbctl prints the protocol's shapes (`Mapping`, `Event`) and their values.
enum Records {
    /// A value as a cell: strings as they are, numbers and booleans as JSON, null or absent as `-`.
    static func text(_ value: JSONValue?) -> String {
        switch value {
        case nil, .null?: "-"
        case .string(let string)?: string
        case .int(let int)?: "\(int)"
        case .double(let double)?: "\(double)"
        case .bool(let bool)?: "\(bool)"
        case let other?:
            String(decoding: (try? JSONEncoder().encode(other)) ?? Data(), as: UTF8.self)  // try?: a JSONValue always encodes
        }
    }

    /// One `Mapping`, a row per member.
    static func mapping(_ mapping: JSONValue) -> String {
        let keys = ["org", "kind", "localId", "qboType", "qboId", "syncToken", "docNumber", "totalAmount", "balance", "dueDate", "lastSyncedAt", "realmId", "lastError"]
        var rows = [["status", Badge.paint(mapping["status"]?.stringValue)]] + keys.map { [$0, text(mapping[$0])] }
        if let drift = drift(mapping["drift"]) { rows.append(["drift", drift]) }
        return Table.render(rows, header: nil)
    }

    /// `edited in QuickBooks at …: TotalAmt 1250.00 -> 1300.00, …`, or nil when there is no drift.
    static func drift(_ drift: JSONValue?) -> String? {
        guard let drift, drift != .null else { return nil }
        let changes = (drift["changes"]?.arrayValue ?? []).map { "\(text($0["field"])) \(text($0["pushed"])) -> \(text($0["now"]))" }
        return "edited in QuickBooks at \(text(drift["detectedAt"]))" + (changes.isEmpty ? "" : ": " + changes.joined(separator: ", "))
    }

    /// One `Event`, a row per member.
    static func event(_ event: JSONValue) -> String {
        let keys = ["id", "receivedAt", "org", "realmId", "type", "entityName", "entityId", "operation", "attempts", "processedAt", "processError", "resolvedBy"]
        var rows = keys.map { [$0, text(event[$0])] }
        rows.insert(["status", Badge.paint(event["status"]?.stringValue)], at: 1)
        return Table.render(rows, header: nil)
    }
}
