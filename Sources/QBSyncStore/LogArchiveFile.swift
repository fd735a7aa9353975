import Crypto
import Foundation
import GRDB
import QBSyncCore

/// The archive file's format and its writing: JSON Lines, a header line (the format, the id range,
/// the cutoff and the previous archive's hash), then one line per delivery with its events, every
/// column as stored (BLOBs in base64). Written with mode 0600 in a 0700 directory and fsync'd
/// (file and directory) before the transaction that deletes the rows commits.
enum LogArchiveFile {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    struct Written {
        var deliveries: Int
        var events: Int
        var sha256: String
    }

    /// Writes deliveries `first...last` and their events as read in `db` (the deleting transaction).
    static func write(db: Database, path: String, first: Int64, last: Int64, header: JSONValue) throws -> Written {
        let directory = (path as NSString).deletingLastPathComponent
        if mkdir(directory, 0o700) != 0, errno != EEXIST {
            throw Failure(description: "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        chmod(directory, 0o700)
        // O_TRUNC: a file left by an archive whose transaction did not commit holds the same range.
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fchmod(fd, 0o600) == 0 else { throw Failure(description: "cannot set the mode of \(path): \(String(cString: strerror(errno)))") }
        var hasher = SHA256()
        var buffer = Data()
        func flush() throws {
            hasher.update(data: buffer)
            var offset = 0
            while offset < buffer.count {
                let written = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
                guard written > 0 else { throw Failure(description: "cannot write \(path): \(String(cString: strerror(errno)))") }
                offset += written
            }
            buffer.removeAll(keepingCapacity: true)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func line(_ value: JSONValue) throws {
            buffer.append(try encoder.encode(value))
            buffer.append(0x0A)
            if buffer.count >= 1 << 20 { try flush() }
        }
        try line(header)
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
            try line(["delivery": json(row), "events": .array(events[row["id"]] ?? [])])
            deliveries += 1
        }
        try flush()
        guard fsync(fd) == 0 else { throw Failure(description: "cannot fsync \(path): \(String(cString: strerror(errno)))") }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
        return Written(deliveries: deliveries, events: eventCount, sha256: hex(Data(hasher.finalize())))
    }

    /// SHA-256 of a file, hex; nil when it cannot be read.
    static func sha256(path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }  // try?: read-only, nothing to lose
        var hasher = SHA256()
        do {
            // nil or empty: the end of the file.
            while let data = try handle.read(upToCount: 1 << 20), !data.isEmpty { hasher.update(data: data) }
        } catch {
            return nil
        }
        return hex(Data(hasher.finalize()))
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

    static func hex(_ data: Data) -> String { data.map { String(format: "%02x", $0) }.joined() }
}
