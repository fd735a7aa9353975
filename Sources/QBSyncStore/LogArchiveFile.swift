import Crypto
public import Foundation
public import QBSyncCore

/// The archive file's format and its writing, the same for both stores: JSON Lines, a header line
/// (the format, the id range, the cutoff and the previous archive's hash), then one line per
/// delivery with its events, every column as stored (binary in base64, keys sorted). Written with
/// mode 0600 in a 0700 directory and fsync'd (file and directory) before the transaction that
/// deletes the rows commits.
public final class LogArchiveFile {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String

        public init(description: String) { self.description = description }
    }

    public let path: String
    private let fd: Int32
    private var hasher = SHA256()
    private var buffer = Data()
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// Creates (or truncates: a file left by an archive that did not commit holds the same range) the file.
    public init(path: String) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if mkdir(directory, 0o700) != 0, errno != EEXIST {
            throw Failure(description: "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        chmod(directory, 0o700)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot create \(path): \(String(cString: strerror(errno)))") }
        guard fchmod(fd, 0o600) == 0 else {
            let failure = Failure(description: "cannot set the mode of \(path): \(String(cString: strerror(errno)))")
            close(fd)
            throw failure
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// The file's name for deliveries `first...last`.
    public static func name(first: Int64, last: Int64) -> String { "webhook-log-\(first)-\(last).jsonl" }

    /// The first line: what the file holds and the hash of the archive before it (the chain).
    public static func header(previousSHA256: String?, first: Int64, last: Int64, receivedBefore cutoff: Date, createdAt now: Date) -> JSONValue {
        [
            "qbsyncdLogArchive": 1, "previousSha256": previousSHA256.map(JSONValue.string) ?? .null, "firstDeliveryId": .int(first), "lastDeliveryId": .int(last),
            "receivedBefore": .string(Timestamp.string(cutoff)), "createdAt": .string(Timestamp.string(now)),
        ]
    }

    /// One delivery's line: its row and its events' rows.
    public static func delivery(_ row: JSONValue, events: [JSONValue]) -> JSONValue { ["delivery": row, "events": .array(events)] }

    public func line(_ value: JSONValue) throws {
        buffer.append(try encoder.encode(value))
        buffer.append(0x0A)
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func flush() throws {
        hasher.update(data: buffer)
        var offset = 0
        while offset < buffer.count {
            let written = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            guard written > 0 else { throw Failure(description: "cannot write \(path): \(String(cString: strerror(errno)))") }
            offset += written
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes and fsyncs the file and its directory; the file's SHA-256, hex.
    public func finish() throws -> String {
        try flush()
        guard fsync(fd) == 0 else { throw Failure(description: "cannot fsync \(path): \(String(cString: strerror(errno)))") }
        let directoryFD = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
        return Self.hex(Data(hasher.finalize()))
    }

    /// SHA-256 of a file, hex; nil when it cannot be read.
    public static func sha256(path: String) -> String? {
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

    static func hex(_ data: Data) -> String { data.map { String(format: "%02x", $0) }.joined() }
}
