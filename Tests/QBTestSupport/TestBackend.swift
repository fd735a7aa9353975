import Foundation

/// The store the integration tests run `qbsyncd` on: the embedded SQLite store by default, or
/// PostgreSQL with `QBSYNCD_TEST_BACKEND=postgres` and `QBSYNCD_TEST_DATABASE_URL` (as
/// `scripts/pg-cluster.sh start` prints it). Each ``DaemonProcess`` then gets a fresh schema of its
/// own in that database, kept across its restarts; the cluster is thrown away after the run.
public enum TestBackend {
    static let environment = ProcessInfo.processInfo.environment

    /// Whether the daemons of this run use PostgreSQL.
    public static let isPostgres = environment["QBSYNCD_TEST_BACKEND"] == "postgres"

    /// The database every schema lives in (nil on SQLite). It holds a password: never print it.
    public static let databaseURL: String? = environment["QBSYNCD_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }

    /// Connections per test daemon.
    static let poolSize = 2

    /// A fresh schema name and the `QBSYNCD_DATABASE_URL` that puts a daemon's tables in it (nil on SQLite).
    static func freshDatabase(poolSize: Int = TestBackend.poolSize) throws -> (schema: String, url: String)? {
        guard isPostgres else { return nil }
        guard let databaseURL else {
            throw DeadlineExceeded(description: "QBSYNCD_TEST_BACKEND=postgres needs QBSYNCD_TEST_DATABASE_URL: run `bash scripts/pg-cluster.sh start` and export what it prints")
        }
        let schema = "it_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
        // Two connections each: the test cluster's 200 connections are shared by every test's daemon.
        return (String(schema), databaseURL + (databaseURL.contains("?") ? "&" : "?") + "schema=\(schema)&pool_max_conns=\(poolSize)")
    }
}
