import Foundation
import Logging
import QBSyncCore
import QBSyncStore
import QBSyncStorePostgres

/// `qbsyncd --migrate-to URL`: copies the SQLite store of the configured state directory into the
/// PostgreSQL store of URL (as `QBSYNCD_DATABASE_URL` takes it, `?schema=` included), with the
/// daemon stopped. The copy itself is `SQLiteImport` (QBSyncStorePostgres): one transaction,
/// checked before COMMIT, into an empty store only.
///
/// Refused, nothing copied: settings that do not load, a URL that is not `postgres://`, settings
/// that already choose PostgreSQL, a daemon answering on the control socket or holding SQLite's
/// write lock, an absent, damaged or differently migrated SQLite file, a target that cannot be
/// reached or already holds data. The URL is only ever shown redacted; no row value is shown.
public enum MigrateTo {
    public static func run(environment: [String: String], url text: String) async -> (ok: Bool, lines: [String]) {
        var settings: Settings
        switch await Settings.load(environment: environment) {
        case .success(let loaded): settings = loaded
        case .failure(let problems): return (false, problems.problems)
        }
        guard let url = DatabaseURL(text) else {
            return (false, ["--migrate-to takes a postgres:// (or postgresql://) URL, as \(SettingKey.databaseURL) does"])
        }
        if let configured = settings.databaseURL {
            return (false, [
                "\(SettingKey.databaseURL) is set (\(configured.redacted)): the configured store is already PostgreSQL; --migrate-to copies the SQLite store of the state directory, so run it without \(SettingKey.databaseURL)"
            ])
        }
        if ControlSocketFile.isAnswering(settings.controlSocketPath) {
            return (false, ["qbsyncd is running (\(settings.controlSocketPath) answers): stop it before migrating its store"])
        }
        let source: SQLiteImportSource
        do {
            source = try SQLiteImportSource.open(path: settings.databasePath)
        } catch {
            return (false, ["migration refused: \(error)"])
        }
        defer { source.close() }
        let logger = Logger(label: "qbsyncd")
        settings.databaseURL = url
        do {
            let (report, target) = try await StoreOpening.withStore(settings, logger: logger) { store in
                guard let postgres = store as? PostgresStore else { throw SQLiteImportError("the target store is not PostgreSQL") }
                return (try await SQLiteImport.run(from: source, into: postgres, logger: logger), postgres.configuration.description)
            }
            var lines = ["copied \(source.path) into PostgreSQL \(target), in one transaction:"]
            lines += report.lines.map { "  " + $0 }
            lines.append("verified: every table's row count matches, and the webhook log's body SHA-256s")
            lines.append("to switch: set \(SettingKey.databaseURL) to the URL given here (\(url.redacted)) and \(keyAdvice(settings.tokenKey)), then start qbsyncd")
            lines.append("the SQLite file is left as it was: keep it as the backup until the PostgreSQL store has run for a while")
            return (true, lines)
        } catch let failure as Daemon.StartupFailure {
            return (false, ["migration failed, nothing was copied: \(failure.description)"])
        } catch {
            return (false, ["migration failed: \(error)"])
        }
    }

    /// The sealed tokens open only with the key they were sealed under.
    static func keyAdvice(_ key: TokenKeySource) -> String {
        let id = (try? TokenKey.load(key, create: false)).map { " (key id \($0.id))" } ?? ""  // try?: only for the advice
        switch key {
        case .file(let path): return "keep the same \(SettingKey.tokenKeyFile)=\(path)\(id)"
        case .credential(let path): return "keep the same token_key credential (\(path))\(id)"
        case .generated(let path): return "keep the same state directory and its token key \(path)\(id) (or the same \(SettingKey.tokenKeyFile))"
        }
    }
}
