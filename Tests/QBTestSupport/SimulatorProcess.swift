import Foundation
import Synchronization

/// A real `qbo-sim` on a free port, with the registered app's credentials below.
public final class SimulatorProcess: Sendable {
    public static let clientID = "qbsync-test-client"
    public static let clientSecret = "qbsync-test-secret"
    public static let redirectURI = "https://app.example.com/quickbooks/callback"
    public static let verifierToken = "00faeec4-08d0-4996-bb37-698ae19f0149"

    public let directory: TempDirectory
    public let logPath: String
    private let process = Mutex<Process?>(nil)
    private let started = Mutex<(url: String, realmID: String)?>(nil)

    public init() throws {
        directory = try TempDirectory(prefix: "qbsim")
        logPath = directory.file("qbo-sim.log")
    }

    /// Starts the simulator and waits for its "listening" line.
    public func start(
        webhookURL: String? = nil, webhookFormat: String = "cloudevents", extraEnvironment: [String: String] = [:], statePath: String? = nil,
        listen: String = "127.0.0.1:0"
    ) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.directory + "/qbo-sim")
        var arguments = [
            "--listen", listen, "--client-id", Self.clientID, "--client-secret", Self.clientSecret, "--redirect-uri", Self.redirectURI,
            "--verifier-token", Self.verifierToken, "--webhook-format", webhookFormat,
        ]
        if let webhookURL { arguments += ["--webhook-url", webhookURL] }
        if let statePath { arguments += ["--state", statePath] }
        process.arguments = arguments
        process.environment = ["PATH": "/usr/bin:/bin"].merging(extraEnvironment) { _, new in new }
        let stdout = directory.file("stdout")
        // A restart starts with an empty stdout, so the new "listening" line is the one read.
        _ = FileManager.default.createFile(atPath: stdout, contents: nil)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdout))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process.withLock { $0 = process }
        let info = try await eventually(timeout: .seconds(20), "qbo-sim listening") { () -> (String, String)? in
            guard process.isRunning else { throw DeadlineExceeded(description: "qbo-sim exited: \(self.log)") }
            let text = (try? String(contentsOfFile: stdout, encoding: .utf8)) ?? ""
            guard let url = text.firstMatch(of: /listening on (\S+)/)?.1, let realm = text.firstMatch(of: /realmId=(\d+)/)?.1 else { return nil }
            return (String(url), String(realm))
        }
        started.withLock { $0 = info }
    }

    /// `http://127.0.0.1:PORT`.
    public var baseURL: String { started.withLock { $0?.url ?? "" } }
    /// The company that exists from the start.
    public var defaultRealmID: String { started.withLock { $0?.realmID ?? "" } }
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Sends SIGTERM and waits for a clean exit (0).
    public func stop() async throws -> Int32 {
        guard let process = process.withLock({ $0 }) else { return -1 }
        kill(process.processIdentifier, SIGTERM)
        return try await eventually(timeout: .seconds(20), "qbo-sim exiting") { process.isRunning ? nil : process.terminationStatus }
    }

    public func cleanUp() {
        let process = self.process.withLock { $0 }
        killAndWait(process)
        directory.remove()
    }
}
