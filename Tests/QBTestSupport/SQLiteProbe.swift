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
