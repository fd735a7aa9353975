import Foundation
import QBSyncCore
import QBTestSupport

/// Runs qbctl with these arguments and `--socket`, optionally with `input` piped to its
/// standard input (for `--file -`).
func qbctl(_ arguments: [String], socket: String, input: String? = nil) async throws -> CommandResult {
    guard let input else { return try await runCommand(Binaries.qbctl, arguments + ["--socket", socket]) }
    return try await runCommand(
        "/bin/sh", ["-c", #"printf '%s' "$QBCTL_INPUT" | "$@""#, "sh", Binaries.qbctl] + arguments + ["--socket", socket],
        environment: ["PATH": "/usr/bin:/bin", "QBCTL_INPUT": input]
    )
}

/// Runs qbctl with its standard output on a terminal (util-linux `script` gives it a pty).
func qbctlOnTerminal(_ arguments: [String], environment: [String: String] = [:]) async throws -> CommandResult {
    let command = ([Binaries.qbctl] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: #"'\''"#) + "'" }.joined(separator: " ")
    return try await runCommand(
        "/usr/bin/script", ["-qec", command, "/dev/null"], environment: ["PATH": "/usr/bin:/bin", "TERM": "xterm"].merging(environment) { _, new in new }
    )
}

/// The JSON qbctl printed.
func parsed(_ result: CommandResult) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: Data(result.stdout.utf8))
}

/// The rows of a table below its header.
func tableRows(_ result: CommandResult) -> [Substring] {
    Array(result.stdout.split(separator: "\n").dropFirst())
}
