import Foundation

/// Runs SQL against a daemon's database from outside it, as someone with `sqlite3` would
/// (Python's sqlite3 module): `setup` first, committed, then each statement on its own.
/// Returns one line per statement: `allowed`, or `refused: <the database's reason>`.
public func sqliteOutcomes(database: String, setup: String? = nil, statements: [String]) async throws -> [String] {
    let script = """
        import json, sqlite3, sys
        db = sqlite3.connect(sys.argv[1], timeout=10)
        setup, statements = json.loads(sys.argv[2]), json.loads(sys.argv[3])
        if setup:
            db.execute(setup); db.commit()
        for statement in statements:
            try:
                db.execute(statement); db.commit(); print("allowed")
            except sqlite3.DatabaseError as error:
                print("refused:", error)
        """
    let encode = { (value: any Encodable) throws -> String in String(decoding: try JSONEncoder().encode(value), as: UTF8.self) }
    let result = try await runCommand(
        "/usr/bin/env", ["python3", "-c", script, database, try encode(setup), try encode(statements)], environment: ["PATH": "/usr/bin:/bin"]
    )
    return result.stdout.split(separator: "\n").map(String.init) + (result.stderr.isEmpty ? [] : ["stderr: " + result.stderr])
}

/// Another process (Python's sqlite3) holding a database's write lock until ``release()``, as
/// someone with `sqlite3` inside a transaction would.
public final class SQLiteWriteLock: Sendable {
    private let process: Process
    private let input: Pipe

    public init(database: String) throws {
        let script = """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1], isolation_level=None)
            db.execute("BEGIN IMMEDIATE")
            print("locked", flush=True)
            sys.stdin.read()
            db.execute("ROLLBACK")
            """
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, database]
        process.environment = ["PATH": "/usr/bin:/bin"]
        input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        // The lock is held once the line comes.
        let line = output.fileHandleForReading.readData(ofLength: 7)
        guard String(decoding: line, as: UTF8.self) == "locked\n" else {
            process.terminate()
            throw DeadlineExceeded(description: "the SQLite lock was not taken on \(database)")
        }
    }

    /// Ends the transaction (idempotent) and waits for the process to exit.
    public func release() {
        try? input.fileHandleForWriting.close()  // try?: already closed by an earlier release
        process.waitUntilExit()
    }
}
