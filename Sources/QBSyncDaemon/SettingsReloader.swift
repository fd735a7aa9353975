import Logging
import QBSyncCore
import ServiceLifecycle
import UnixSignals
import SystemdSupport

/// Re-reads the settings file on SIGHUP. A file that does not validate is refused with a logged
/// error and the settings in force stay; settings that need a restart are reported, not applied.
struct SettingsReloader: Service, CustomStringConvertible {
    /// ServiceLifecycle logs services by description: never print the environment (it may hold secrets).
    var description: String { "SettingsReloader" }

    /// SIGHUP, trapped at the start of ``Daemon/run(environment:listenFDs:logLevel:logger:)``.
    let hangups: UnixSignalsSequence
    let environment: [String: String]
    let state: DaemonState
    let logLevel: LogLevelControl
    let notifier: SystemdNotifier
    let logger: Logger

    func run() async throws {
        for await _ in hangups.cancelOnGracefulShutdown() {
            await reload()
        }
    }

    /// One reload, as SIGHUP runs it.
    func reload() async {
        notifier.reloading()
        defer { notifier.ready(status: SystemdService.status(state)) }
        logger.info("reloading settings")
        switch await Settings.load(environment: environment) {
        case .failure(let problems):
            state.recordRejectedReload(problems)
            logger.error(
                "settings reload refused; the previous settings stay in force",
                metadata: [LogKey.problems: .array(problems.problems.map { .string($0) })]
            )
        case .success(let settings):
            let old = state.settings
            for (name, changed) in [
                (SettingKey.stateDirectory, old.stateDirectory != settings.stateDirectory),
                (SettingKey.databaseURL, old.databaseURL != settings.databaseURL),
                (SettingKey.controlSocket, old.controlSocketPath != settings.controlSocketPath),
                (SettingKey.webhookListen, old.webhookListen != settings.webhookListen),
                (SettingKey.tokenKeyFile, old.tokenKey != settings.tokenKey),
                // Every connected org holds a grant for one environment: a live switch would send each
                // of them to the other environment's host, which answers 403 and so disconnects it (F15).
                (SettingKey.environment, old.quickBooks.environment != settings.quickBooks.environment),
                (SettingKey.apiBaseURL, old.quickBooks.apiBaseURL != settings.quickBooks.apiBaseURL),
            ] where changed {
                logger.warning("setting changed but takes effect only after a restart", metadata: [LogKey.setting: "\(name)"])
            }
            var applied = settings
            applied.stateDirectory = old.stateDirectory
            applied.databaseURL = old.databaseURL
            applied.controlSocketPath = old.controlSocketPath
            applied.webhookListen = old.webhookListen
            applied.tokenKey = old.tokenKey
            applied.quickBooks.environment = old.quickBooks.environment
            applied.quickBooks.apiBaseURL = old.quickBooks.apiBaseURL
            state.apply(applied)
            logLevel.level = applied.logLevel
            logger.info(
                "settings reloaded",
                metadata: [
                    LogKey.integration: "\(applied.integrationEnabled ? "enabled" : "disabled")", LogKey.logLevel: "\(applied.logLevel)",
                ]
            )
        }
    }
}
