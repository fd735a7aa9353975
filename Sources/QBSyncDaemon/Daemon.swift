import AsyncHTTPClient
import Foundation
public import Logging
import NIOPosix
import QBSyncCore
import QBSyncStore
import ServiceLifecycle

/// Builds and runs the daemon: settings, store, listeners, and the one `ServiceGroup`.
public enum Daemon {
    /// Why the daemon could not start; the message is for the operator, the exit status is 1.
    public struct StartupFailure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs until SIGTERM or SIGINT; returns when every service has stopped and the store is closed.
    public static func run(environment: [String: String], logLevel: LogLevelControl, logger: Logger) async throws {
        let settings: Settings
        switch await Settings.load(environment: environment) {
        case .success(let loaded): settings = loaded
        case .failure(let problems):
            throw StartupFailure(description: "invalid settings: " + problems.problems.joined(separator: "; "))
        }
        logLevel.level = settings.logLevel
        logger.info(
            "qbsyncd starting",
            metadata: [
                "version": "\(QBSyncVersion.current)",
                "settings": .dictionary(Dictionary(uniqueKeysWithValues: settings.redactedSummary.map { ($0.name, .string($0.value)) })),
            ]
        )
        if !settings.integrationEnabled {
            logger.warning(
                "QuickBooks integration disabled: settings missing",
                metadata: ["missing": .array(settings.integrationMissing.map { .string($0) })]
            )
        }

        let store: Store
        do {
            store = try Store.open(stateDirectory: settings.stateDirectory, logger: logger)
        } catch {
            throw StartupFailure(description: error.message)
        }
        defer {
            do { try store.close() } catch { logger.error("closing the store failed", metadata: [LogKey.error: "\(error)"]) }
        }

        let tokenKey: TokenKey
        do {
            tokenKey = try TokenKey.load(settings.tokenKey)
        } catch {
            throw StartupFailure(description: error.description)
        }
        let state = DaemonState(settings: settings, orgCounts: try await OrgRepository(store: store).statusCounts())
        let hub = NotificationHub(logger: logger)
        let (scheduleChanges, scheduleContinuation) = AsyncStream.makeStream(of: ConnectionManager.ScheduleChange.self)
        let connections = ConnectionManager(
            repository: ConnectionRepository(store: store, vault: TokenVault(key: tokenKey)), orgs: OrgRepository(store: store), state: state,
            hub: hub, http: HTTPClient.shared, scheduleChanges: scheduleContinuation, logger: logger
        )
        let scheduler = TokenScheduler(manager: connections, changes: scheduleChanges, logger: logger)
        let sync = SyncService(connections: connections, mappings: MappingRepository(store: store), logger: logger)
        let dispatcher = RPCDispatcher(methods: MethodTable.build(state: state, hub: hub, store: store, connections: connections, sync: sync), state: state)
        let control: ControlServer
        do {
            control = try await ControlServer.bind(
                path: settings.controlSocketPath, settings: settings, dispatcher: dispatcher, state: state, hub: hub,
                group: MultiThreadedEventLoopGroup.singleton, logger: logger
            )
        } catch let error as ControlSocketFile.Failure {
            throw StartupFailure(description: error.description)
        }

        let reloader = SettingsReloader(environment: environment, state: state, logLevel: logLevel, logger: logger)
        var configuration = ServiceGroupConfiguration(
            services: [
                .init(service: scheduler),
                .init(service: OverdueService(sync: sync, logger: logger)),
                .init(service: control),
                .init(service: reloader),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        // Below systemd's default TimeoutStopSec (90 s): a stuck shutdown becomes a cancellation.
        configuration.maximumGracefulShutdownDuration = .seconds(30)
        let group = ServiceGroup(configuration: configuration)
        logger.info("qbsyncd ready", metadata: [LogKey.path: "\(settings.controlSocketPath)"])
        try await group.run()
        logger.info("qbsyncd stopped")
    }
}
