import Foundation
import PostgresNIO
import QBSyncStorePostgres
import QBTestSupport
import Synchronization
import Testing

extension TestStore {
    /// Everything the daemon's store holds, as bytes to search: the SQLite file and its WAL, or
    /// every row of every table of the daemon's schema (as JSON) and every BYTEA value raw.
    static func contents(_ daemon: DaemonProcess) async throws -> [Data] {
        guard TestBackend.isPostgres else {
            return ["qbsyncd.sqlite", "qbsyncd.sqlite-wal"].compactMap { FileManager.default.contents(atPath: daemon.stateDirectory + "/" + $0) }
        }
        return try await withPostgres(daemon) { store in
            var columns: [(String, String, String)] = []
            let query: PostgresQuery = "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns WHERE table_schema = current_schema()"
            for try await column in try await store.client.query(query, logger: logger).decode((String, String, String).self) { columns.append(column) }
            var rows = Data()
            var blobs = Data()
            for table in Set(columns.map(\.0)).sorted() {
                for try await row in try await store.client.query(PostgresQuery(unsafeSQL: "SELECT row_to_json(t)::text FROM \(table) t"), logger: logger).decode(String.self) {
                    rows.append(Data((row + "\n").utf8))
                }
            }
            for (table, column, type) in columns where type == "bytea" {
                for try await value in try await store.client.query(PostgresQuery(unsafeSQL: "SELECT \(column) FROM \(table) WHERE \(column) IS NOT NULL"), logger: logger).decode(ByteBuffer.self) {
                    blobs.append(contentsOf: value.readableBytesView)
                    blobs.append(0x0A)
                }
            }
            return [rows, blobs]
        }
    }
}

/// Another client holding the store's write lock until ``release()``: writes wait, reads answer.
/// SQLite: `BEGIN EXCLUSIVE` from another process (reads go on in WAL mode). PostgreSQL: a
/// transaction holding `LOCK TABLE store_health IN EXCLUSIVE MODE` (the write probe's row; SELECTs
/// go on), so the daemon's write probe waits past its timeout.
final class WriteLockHolder: Sendable {
    private let process: Process?
    private let release: Pipe?
    private let task: Task<Void, any Error>?
    private let done: AsyncStream<Void>.Continuation?

    private init(process: Process? = nil, release: Pipe? = nil, task: Task<Void, any Error>? = nil, done: AsyncStream<Void>.Continuation? = nil) {
        self.process = process
        self.release = release
        self.task = task
        self.done = done
    }

    /// Returns once the lock is held.
    static func hold(_ daemon: DaemonProcess) async throws -> WriteLockHolder {
        guard TestBackend.isPostgres else {
            let lockedFlag = daemon.directory.file("locked")
            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            holder.arguments = [
                "python3", "-c",
                "import sqlite3, sys\ndb = sqlite3.connect(sys.argv[1], timeout=10)\ndb.execute('BEGIN EXCLUSIVE')\nopen(sys.argv[2], 'w').close()\nsys.stdin.read()\n",
                daemon.stateDirectory + "/qbsyncd.sqlite", lockedFlag,
            ]
            let release = Pipe()
            holder.standardInput = release
            try holder.run()
            let held = WriteLockHolder(process: holder, release: release)
            _ = try await eventually("the store held") { FileManager.default.fileExists(atPath: lockedFlag) ? true : nil }
            return held
        }
        let (held, heldContinuation) = AsyncStream.makeStream(of: Void.self)
        let (done, doneContinuation) = AsyncStream.makeStream(of: Void.self)
        let task = Task {
            try await TestStore.withPostgres(daemon) { store in
                try await store.client.withTransaction(logger: TestStore.logger) { connection in
                    try await connection.query("LOCK TABLE store_health IN EXCLUSIVE MODE", logger: TestStore.logger)
                    heldContinuation.yield()
                    for await _ in done {}
                }
            }
        }
        let holder = WriteLockHolder(task: task, done: doneContinuation)
        var iterator = held.makeAsyncIterator()
        guard await iterator.next() != nil else {
            _ = try await task.value
            throw DeadlineExceeded(description: "the store's write lock was not taken")
        }
        return holder
    }

    /// Ends the holding transaction (or process) and waits until it has.
    func release() async throws {
        if let release {
            try release.fileHandleForWriting.close()
            _ = try await eventually("the store released") { (process?.isRunning ?? false) ? nil : true }
        }
        done?.finish()
        try await task?.value
    }

    /// Synchronous, for a `defer`: nothing outlives the test.
    func cancel() {
        if let process, process.isRunning { kill(process.processIdentifier, SIGKILL) }
        done?.finish()
    }
}
