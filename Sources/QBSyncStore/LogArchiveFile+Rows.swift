import Foundation
import GRDB
import QBSyncCore

/// The SQLite store's archive rows: read in the deleting transaction, written as ``LogArchiveFile`` lines.
extension LogArchiveFile {
    struct Written {
        var deliveries: Int
        var events: Int
        var sha256: String
    }

    /// Writes deliveries `first...last` and their events as read in `db` (the deleting transaction).
    static func write(db: Database, path: String, first: Int64, last: Int64, header: JSONValue) throws -> Written {
        let file = try LogArchiveFile(path: path)
        try file.line(header)
        var events: [Int64: [JSONValue]] = [:]
        var eventCount = 0
        let eventRows = try Row.fetchCursor(db, sql: "SELECT * FROM qb_webhook_events WHERE delivery_id BETWEEN ? AND ? ORDER BY id", arguments: [first, last])
        while let row = try eventRows.next() {
            events[row["delivery_id"], default: []].append(json(row))
            eventCount += 1
        }
        var deliveries = 0
        let rows = try Row.fetchCursor(db, sql: "SELECT * FROM qb_webhook_deliveries WHERE id BETWEEN ? AND ? ORDER BY id", arguments: [first, last])
        while let row = try rows.next() {
            try file.line(delivery(json(row), events: events[row["id"]] ?? []))
            deliveries += 1
        }
        return Written(deliveries: deliveries, events: eventCount, sha256: try file.finish())
    }

    static func json(_ row: Row) -> JSONValue {
        var object: [String: JSONValue] = [:]
        for (column, value) in row {
            switch value.storage {
            case .null: object[column] = .null
            case .int64(let int): object[column] = .int(int)
            case .double(let double): object[column] = .double(double)
            case .string(let string): object[column] = .string(string)
            case .blob(let data): object[column] = .string(data.base64EncodedString())
            }
        }
        return .object(object)
    }
}
