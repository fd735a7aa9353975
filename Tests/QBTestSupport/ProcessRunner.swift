import Foundation

/// The outcome of a finished command.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs a command to completion with its output captured (for qbctl and `qbsyncd --check-config`).
public func runCommand(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> CommandResult {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            do {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = arguments
                if let environment { process.environment = environment }
                let out = Pipe()
                let err = Pipe()
                process.standardOutput = out
                process.standardError = err
                process.standardInput = FileHandle.nullDevice
                try process.run()
                let stdout = out.fileHandleForReading.readDataToEndOfFile()
                let stderr = err.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(
                    returning: CommandResult(
                        status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                        stderr: String(decoding: stderr, as: UTF8.self)
                    )
                )
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}

/// Kills a child that still runs, so nothing outlives the test. It does not wait: on Linux
/// `Process.waitUntilExit()` spins its run loop, and on the two-thread cooperative pool that the
/// tests run on, a few such waits starve every other test. Foundation reaps the child itself.
func killAndWait(_ process: Process?) {
    guard let process, process.isRunning else { return }
    kill(process.processIdentifier, SIGKILL)
}
