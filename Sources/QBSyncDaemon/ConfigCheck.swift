import Foundation
import QBSyncCore
import QBSyncStorePostgres

/// `qbsyncd --check-config`: the same validation as start-up, plus the checks an admin wants before a
/// restart (the state directory exists and is writable, the socket's directory exists), and which
/// store the daemon would use (the database URL redacted; it is parsed, not connected to).
public enum ConfigCheck {
    public struct Outcome: Sendable {
        /// One line per problem; empty when the settings are valid.
        public var problems: [String]
        /// The effective settings, secrets redacted (empty when the settings did not load).
        public var summary: [String]
    }

    public static func run(environment: [String: String]) async -> Outcome {
        switch await Settings.load(environment: environment) {
        case .failure(let problems):
            return Outcome(problems: problems.problems, summary: [])
        case .success(let settings):
            var problems: [String] = []
            if let url = settings.databaseURL {
                do {
                    _ = try PostgresStoreConfiguration(url: url.secret.value)
                } catch {
                    problems.append("\(SettingKey.databaseURL) (\(url.redacted)): \(error.message)")
                }
            }
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: settings.stateDirectory, isDirectory: &isDirectory) || !isDirectory.boolValue {
                problems.append("\(SettingKey.stateDirectory): \(settings.stateDirectory) does not exist or is not a directory")
            } else if access(settings.stateDirectory, W_OK | X_OK) != 0 {
                problems.append("\(SettingKey.stateDirectory): \(settings.stateDirectory) is not writable by this user")
            }
            let socketDirectory = (settings.controlSocketPath as NSString).deletingLastPathComponent
            if !FileManager.default.fileExists(atPath: socketDirectory) {
                problems.append("\(SettingKey.controlSocket): the directory \(socketDirectory) does not exist")
            }
            if case .file(let path) = settings.tokenKey, !FileManager.default.fileExists(atPath: path) {
                problems.append("\(SettingKey.tokenKeyFile): \(path) does not exist")
            }
            let summary = ["store: " + StoreOpening.backend(settings)] + settings.redactedSummary.map { "\($0.name)=\($0.value)" }
            return Outcome(problems: problems, summary: summary)
        }
    }
}
