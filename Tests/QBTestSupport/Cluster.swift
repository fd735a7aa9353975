import Foundation
import QBControlClient

/// One simulator and several real `qbsyncd` instances sharing ONE PostgreSQL schema (issue 18): the
/// same `QBSYNCD_DATABASE_URL` and the same token key (`QBSYNCD_TOKEN_KEY_FILE`), each with its own
/// state directory, control socket and webhook port.
/// Only meaningful on ``TestBackend/isPostgres`` (SQLite is one instance's own file); tests using
/// it carry `.enabled(if: Cluster.isAvailable, "…")`.
public struct Cluster: Sendable {
    public let sim: SimulatorProcess
    public let daemons: [DaemonProcess]
    public let http: SimClient
    /// The schema every instance's tables live in.
    public let schema: String
    /// What the instances share besides the database: the token key (tokens one instance sealed,
    /// another must open).
    public let directory: TempDirectory
    public var tokenKeyPath: String { directory.file("token.key") }

    /// Whether this run can start a cluster (the PostgreSQL backend).
    public static var isAvailable: Bool { TestBackend.isPostgres }

    /// Connections per instance: the lease heartbeat, the pipeline and the control calls share them.
    static let poolSize = 4

    /// Starts the simulator, then `instances` daemons on one fresh schema, one after the other (the
    /// first migrates it). Everything started is killed again when a later start fails.
    public static func start(instances: Int = 2, simEnvironment: [String: String] = [:], daemonEnvironment: [String: String] = [:]) async throws -> Cluster {
        guard let database = try TestBackend.freshDatabase(poolSize: poolSize) else {
            throw DeadlineExceeded(description: "Cluster needs the PostgreSQL backend (QBSYNCD_TEST_BACKEND=postgres)")
        }
        let directory = try TempDirectory(prefix: "qbcluster")
        let key = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        guard FileManager.default.createFile(atPath: directory.file("token.key"), contents: Data(key.utf8), attributes: [.posixPermissions: 0o600]) else {
            directory.remove()
            throw DeadlineExceeded(description: "the cluster's token key could not be written in \(directory.path)")
        }
        let environment = daemonEnvironment.merging(["QBSYNCD_TOKEN_KEY_FILE": directory.file("token.key")]) { given, _ in given }
        let sim: SimulatorProcess
        do {
            sim = try SimulatorProcess()
        } catch {
            directory.remove()
            throw error
        }
        var daemons: [DaemonProcess] = []
        do {
            try await sim.start(extraEnvironment: simEnvironment)
            for _ in 0..<instances {
                let daemon = try DaemonProcess.pointed(at: sim, extraEnvironment: environment, database: database)
                daemons.append(daemon)
                try await daemon.start()
            }
        } catch {
            // The caller's `defer` is not set up yet: nothing may outlive the test.
            for daemon in daemons { daemon.cleanUp() }
            sim.cleanUp()
            directory.remove()
            throw error
        }
        return Cluster(sim: sim, daemons: daemons, http: SimClient(base: sim.baseURL), schema: database.schema, directory: directory)
    }

    /// Kills every daemon and the simulator and removes their directories; synchronous, so a
    /// `defer` runs it before the test returns.
    public func cleanUp() {
        for daemon in daemons { daemon.cleanUp() }
        sim.cleanUp()
        directory.remove()
    }

    /// Instance `index` as a ``Pair`` with a fresh control connection (for ``Pair/connect(_:realmID:via:)``
    /// and friends); the caller closes `control` when done.
    public func pair(_ index: Int) async throws -> Pair {
        Pair(sim: sim, daemon: daemons[index], http: http, control: try await daemons[index].connect())
    }

    /// The daemon whose process is `pid` (an instance's lease owner name is `host:pid:random`).
    public func daemon(owning owner: String) -> DaemonProcess? {
        let parts = owner.split(separator: ":")
        guard parts.count >= 3, let pid = Int32(parts[parts.count - 2]) else { return nil }
        return daemons.first { $0.pid == pid }
    }

    /// The index of the daemon named by a lease owner (see ``daemon(owning:)``).
    public func index(owning owner: String) -> Int? {
        guard let daemon = daemon(owning: owner) else { return nil }
        return daemons.firstIndex { $0 === daemon }
    }

    /// The last `lines` lines of every daemon's log, each under its index (for failure messages).
    public func logs(lines: Int = 80) -> String {
        daemons.enumerated().map { index, daemon in
            "--- instance \(index) (pid \(daemon.pid)), last \(lines) lines ---\n" + daemon.log.split(separator: "\n").suffix(lines).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// ``eventually(timeout:_:_:)`` whose failure carries the daemons' logs as they are then.
    public func eventually<T>(timeout: Duration, _ what: String, _ condition: () async throws -> T?) async throws -> T {
        do {
            return try await QBTestSupport.eventually(timeout: timeout, what, condition)
        } catch let error as DeadlineExceeded {
            throw DeadlineExceeded(description: error.description + "\n" + logs())
        }
    }
}
