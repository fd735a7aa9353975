import Foundation
import Logging
import QBSyncCore
import QBSyncStore
import QBSyncStorePostgres

/// The one place the daemon (and `--rotate-token-key`, `--check-config`) learns which store the
/// settings choose and opens it. Everything past it holds ``StoreBackend`` and its protocols.
enum StoreOpening {
    /// How long the start waits for the PostgreSQL server to accept a connection.
    static let reachTimeout: Duration = .seconds(10)

    /// Which store the settings choose, for the log and `--check-config`; the URL redacted.
    static func backend(_ settings: Settings) -> String {
        if let url = settings.databaseURL { return "PostgreSQL \(url.redacted) (\(SettingKey.databaseURL))" }
        return "embedded SQLite in \(settings.stateDirectory)"
    }

    /// Opens the store the settings choose, runs `body` with it, and closes it when `body`
    /// returns or throws. PostgreSQL's pool runs around the whole of `body`: it starts before the
    /// first query (the daemon queries the store before its service group starts) and stops only
    /// after `body` has returned, so after the group and the intake's last batch.
    ///
    /// A store that cannot be opened is a ``Daemon/StartupFailure`` (with the URL redacted);
    /// `body`'s own errors pass through.
    static func withStore<Result: Sendable>(
        _ settings: Settings, logger: Logger, _ body: (any StoreBackend) async throws -> Result
    ) async throws -> Result {
        guard let url = settings.databaseURL else {
            let store: any StoreBackend
            do {
                store = try openSQLite(settings, logger: logger)
            } catch {
                throw Daemon.StartupFailure(description: error.message)
            }
            defer { close(store, logger: logger) }
            return try await body(store)
        }
        let store = try openPostgres(url, settings: settings, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
            group.addTask { await store.run() }
            defer { group.cancelAll() }
            try await start(store, url: url, logger: logger)
            defer { close(store, logger: logger) }
            return try await body(store)
        }
    }

    /// The embedded SQLite store in the state directory, checked and migrated.
    static func openSQLite(_ settings: Settings, logger: Logger) throws(StoreError) -> Store {
        let store = try Store.open(stateDirectory: settings.stateDirectory, logger: logger)
        logger.info("store opened", metadata: [LogKey.store: "\(store.description)"])
        return store
    }

    /// The PostgreSQL store of `url`, not yet running. The state directory is still needed (the
    /// token key file, the log's archives, the control socket), so it is checked as SQLite's open does.
    static func openPostgres(_ url: DatabaseURL, settings: Settings, logger: Logger) throws(Daemon.StartupFailure) -> PostgresStore {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: settings.stateDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw Daemon.StartupFailure(description: "the state directory \(settings.stateDirectory) does not exist or is not a directory")
        }
        guard access(settings.stateDirectory, W_OK | X_OK) == 0 else {
            throw Daemon.StartupFailure(description: "the state directory \(settings.stateDirectory) is not writable by this user (\(String(cString: strerror(errno))))")
        }
        let configuration: PostgresStoreConfiguration
        do {
            configuration = try PostgresStoreConfiguration(url: url.secret.value)
        } catch {
            throw Daemon.StartupFailure(description: "\(SettingKey.databaseURL) (\(url.redacted)): \(error.message)")
        }
        return PostgresStore(configuration: configuration, archiveDirectory: settings.stateDirectory + "/archives", logger: logger)
    }

    /// With the pool running: checks the server answers (within ``reachTimeout``), then migrates.
    static func start(_ store: PostgresStore, url: DatabaseURL, logger: Logger) async throws(Daemon.StartupFailure) {
        do {
            try await store.checkReachable(timeout: reachTimeout)
        } catch {
            throw Daemon.StartupFailure(description: "\(SettingKey.databaseURL): the PostgreSQL database \(url.redacted) cannot be reached: \(error.message)")
        }
        do {
            try await store.migrate()
        } catch {
            throw Daemon.StartupFailure(description: "\(SettingKey.databaseURL) (\(url.redacted)): \(error)")
        }
        logger.info("store opened", metadata: [LogKey.store: "\(store.description)"])
    }

    static func close(_ store: any StoreBackend, logger: Logger) {
        do { try store.close() } catch { logger.error("closing the store failed", metadata: [LogKey.error: "\(error)"]) }
    }
}
