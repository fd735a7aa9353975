import Foundation
import Logging
import QBSyncCore
import QBSyncStore

/// `qbsyncd --rotate-token-key PATH`: re-seals every stored token under a new key, in one
/// transaction, while the daemon is stopped.
///
/// PATH is created (0600, 32 random bytes) when it does not exist, owned by the daemon's user (the
/// owner of the state directory) when run as root. With the generated default key
/// (`<state dir>/token.key`) the new key then replaces it; with `QBSYNCD_TOKEN_KEY_FILE` or the
/// `token_key` credential the admin points the setting at PATH before starting the daemon again
/// (until then the daemon refuses to start, naming both key ids).
///
/// The key in use is never created here (L16): from a root shell `CREDENTIALS_DIRECTORY` is unset,
/// so the settings fall back to `<state dir>/token.key`; when that does not exist the rotation stops
/// and says to run it as `QBSYNCD_TOKEN_KEY_FILE=/etc/credstore/qbsyncd.token_key qbsyncd
/// --rotate-token-key PATH` (the file the unit's `LoadCredential=` reads).
public enum TokenKeyRotation {
    public static func run(environment: [String: String], newKeyPath: String) async -> (ok: Bool, lines: [String]) {
        let settings: Settings
        switch await Settings.load(environment: environment) {
        case .success(let loaded): settings = loaded
        case .failure(let problems): return (false, problems.problems)
        }
        if ControlSocketFile.isAnswering(settings.controlSocketPath) {
            return (false, ["qbsyncd is running (\(settings.controlSocketPath) answers): stop it before rotating the token key"])
        }
        do {
            let current = try TokenKey.load(settings.tokenKey, create: false)
            if !FileManager.default.fileExists(atPath: newKeyPath) {
                try TokenKey.create(at: newKeyPath)
                try giveToDaemonUser(newKeyPath, stateDirectory: settings.stateDirectory)
            }
            let next = try TokenKey.load(.file(newKeyPath))
            guard next.id != current.id || FileManager.default.contents(atPath: newKeyPath) != FileManager.default.contents(atPath: settings.tokenKey.path) else {
                return (false, ["the new key is the key in use"])
            }
            let count = try await StoreOpening.withStore(settings, logger: Logger(label: "qbsyncd")) { store in
                try await store.connections(vault: TokenVault(key: current)).reseal(with: TokenVault(key: next))
            }
            var lines = ["re-sealed the tokens of \(count) organisation(s) under key id \(next.id) (was \(current.id))"]
            if case .generated(let path) = settings.tokenKey {
                guard rename(newKeyPath, path) == 0 else {
                    return (false, lines + ["cannot move \(newKeyPath) to \(path): \(String(cString: strerror(errno))); move it there before starting qbsyncd"])
                }
                try TokenKey.syncDirectory(of: path)
                lines.append("the new key replaced \(path)")
            } else {
                lines.append("now point \(SettingKey.tokenKeyFile) (or the token_key credential) at \(newKeyPath), then start qbsyncd")
            }
            return (true, lines)
        } catch {
            return (false, ["token key rotation failed: \(error)"])
        }
    }

    /// Run as root, a new key file would be root's 0600 and unreadable to the daemon (User=qbsyncd):
    /// it is given to the owner of the state directory.
    static func giveToDaemonUser(_ path: String, stateDirectory: String) throws(TokenKeyError) {
        guard geteuid() == 0 else { return }
        var owner = stat()
        guard stat(stateDirectory, &owner) == 0 else { throw TokenKeyError("cannot read the owner of \(stateDirectory): \(String(cString: strerror(errno)))") }
        guard chown(path, owner.st_uid, owner.st_gid) == 0 else {
            unlink(path)
            throw TokenKeyError("cannot give \(path) to uid \(owner.st_uid): \(String(cString: strerror(errno)))")
        }
    }
}
