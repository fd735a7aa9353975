import Foundation
public import QBControlClient
import Synchronization

/// A real `qbsyncd` started on a temporary state directory and socket, with its log in a file;
/// on ``TestBackend/isPostgres``, on a fresh schema of its own (the same one after a restart).
public final class DaemonProcess: Sendable {
    public let directory: TempDirectory
    public let socketPath: String
    public let stateDirectory: String
    public let configPath: String
    public let logPath: String
    public let environment: [String: String]
    /// The PostgreSQL schema its tables live in (nil on SQLite).
    public let databaseSchema: String?
    private let process: Mutex<Process?> = Mutex(nil)

    /// Prepares the directories and environment; `extraEnvironment` and `config` (the settings file)
    /// add to the defaults. `database` puts it on a schema other daemons share (``Cluster``)
    /// instead of a fresh one.
    public init(
        extraEnvironment: [String: String] = [:], config: String = "QBSYNCD_LOG_LEVEL=debug\n", database shared: (schema: String, url: String)? = nil
    ) throws {
        directory = try TempDirectory()
        socketPath = directory.file("control.sock")
        stateDirectory = try directory.makeDirectory("state")
        configPath = try directory.write("qbsyncd.conf", config)
        logPath = directory.file("qbsyncd.log")
        var environment = ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"]
        environment["QBSYNCD_STATE_DIR"] = stateDirectory
        environment["QBSYNCD_CONTROL_SOCKET"] = socketPath
        environment["QBSYNCD_CONFIG"] = configPath
        environment["QBSYNCD_WEBHOOK_LISTEN"] = "127.0.0.1:0"
        let database = try shared ?? TestBackend.freshDatabase()
        if let database { environment["QBSYNCD_DATABASE_URL"] = database.url }
        environment.merge(extraEnvironment) { _, new in new }
        databaseSchema = environment["QBSYNCD_DATABASE_URL"] == database?.url ? database?.schema : nil
        self.environment = environment
    }

    /// A daemon whose `QUICKBOOKS_*` settings point at a running simulator.
    public static func pointed(
        at sim: SimulatorProcess, extraEnvironment: [String: String] = [:], config: String = "QBSYNCD_LOG_LEVEL=debug\n", database: (schema: String, url: String)? = nil
    ) throws -> DaemonProcess {
        var environment = [
            "QUICKBOOKS_CLIENT_ID": SimulatorProcess.clientID, "QUICKBOOKS_CLIENT_SECRET": SimulatorProcess.clientSecret,
            "QUICKBOOKS_REDIRECT_URI": SimulatorProcess.redirectURI, "QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN": SimulatorProcess.verifierToken,
            "QUICKBOOKS_AUTHORIZE_URL": sim.baseURL + "/connect/oauth2", "QUICKBOOKS_TOKEN_URL": sim.baseURL + "/oauth2/v1/tokens/bearer",
            "QUICKBOOKS_REVOKE_URL": sim.baseURL + "/v2/oauth2/tokens/revoke", "QUICKBOOKS_API_BASE_URL": sim.baseURL,
        ]
        environment.merge(extraEnvironment) { _, new in new }
        return try DaemonProcess(extraEnvironment: environment, config: config, database: database)
    }

    /// Starts the daemon and waits until its socket answers (unless `waitUntilAnswering` is false).
    /// With `journalStream`, JOURNAL_STREAM names the log file's device and inode, so the daemon
    /// logs in journald's native protocol.
    public func start(journalStream: Bool = false, extraEnvironment: [String: String] = [:], waitUntilAnswering: Bool = true) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.qbsyncd)
        // Appends across restarts, so a test sees the whole history.
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try log.seekToEnd()
        var environment = self.environment.merging(extraEnvironment) { _, new in new }
        if journalStream {
            var info = stat()
            stat(logPath, &info)
            environment["JOURNAL_STREAM"] = "\(info.st_dev):\(info.st_ino)"
        }
        process.environment = environment
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process.withLock { $0 = process }
        guard waitUntilAnswering else { return }
        do {
            // On PostgreSQL a first start migrates a fresh schema, while every other test's daemon does too.
            _ = try await eventually(timeout: .seconds(TestBackend.isPostgres ? 60 : 20), "qbsyncd answering on \(socketPath)") { () -> Bool? in
                guard process.isRunning else { throw DeadlineExceeded(description: "qbsyncd exited with \(process.terminationStatus): \(self.log)") }
                let client = try await ControlClient.connect(path: socketPath)
                await client.close()
                return true
            }
        } catch {
            // A caller whose start failed holds no daemon to clean up: nothing may outlive the test.
            killAndWait(process)
            throw error
        }
    }

    public var pid: Int32 { process.withLock { $0?.processIdentifier ?? 0 } }
    public var isRunning: Bool { process.withLock { $0?.isRunning ?? false } }
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    public func signal(_ signal: Int32) {
        let pid = self.pid
        if pid > 0 { kill(pid, signal) }
    }

    /// Waits for the process to exit and returns its exit status (128+N for a signal).
    public func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        let process = self.process.withLock { $0 }
        guard let process else { return -1 }
        return try await eventually(timeout: timeout, "qbsyncd exiting") { () -> Int32? in
            guard !process.isRunning else { return nil }
            return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        }
    }

    public func connect() async throws -> ControlClient {
        try await ControlClient.connect(path: socketPath)
    }

    /// Kills the daemon if it still runs and removes its directory; synchronous so that a `defer`
    /// can call it and nothing outlives the test.
    public func cleanUp() {
        let process = self.process.withLock { $0 }
        killAndWait(process)
        directory.remove()
    }
}
