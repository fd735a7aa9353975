import AsyncHTTPClient
import Foundation
public import Logging
import NIOPosix
import QBOClient
import QBSyncCore
import QBSyncStore
import ServiceLifecycle
import UnixSignals
public import SystemdSupport

/// Builds and runs the daemon: settings, store, listeners, and the one `ServiceGroup`.
public enum Daemon {
    /// Why the daemon could not start; the message is for the operator, the exit status is 78 (EX_CONFIG).
    public struct StartupFailure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs until SIGTERM or SIGINT; returns when every service has stopped and the store is closed.
    public static func run(environment: [String: String], listenFDs: ListenFDs = ListenFDs(byName: [:]), logLevel: LogLevelControl, logger: Logger) async throws {
        let notifier = SystemdNotifier()
        // SIGHUP is trapped before anything can answer: a reload asked for as soon as the socket
        // answers (or READY=1 is sent) must not meet the signal's default action, which ends the process.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        // So are SIGTERM and SIGINT: a stop asked for while the daemon starts (the control socket
        // answers before the services run, and systemd may stop a unit at any moment) is kept, and
        // carried out as a graceful stop as soon as the services run.
        let stops = await UnixSignalsSequence(trapping: .sigterm, .sigint)
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
                LogKey.version: "\(QBSyncVersion.current)",
                LogKey.settings: .dictionary(Dictionary(uniqueKeysWithValues: settings.redactedSummary.map { ($0.name, .string($0.value)) })),
            ]
        )
        if !settings.integrationEnabled {
            logger.warning(
                "QuickBooks integration disabled: settings missing",
                metadata: [LogKey.missing: .array(settings.integrationMissing.map { .string($0) })]
            )
        }

        try await StoreOpening.withStore(settings, logger: logger) { store in
            // Past this line the daemon knows only the backend's protocols.
            try await serve(
                store: store, settings: settings, environment: environment, listenFDs: listenFDs, hangups: hangups, stops: stops, logLevel: logLevel, notifier: notifier,
                logger: logger
            )
        }
        logger.info("qbsyncd stopped")
    }

    /// Everything past the store: the key, the start-up checks, the listeners and the service
    /// group; returns when the group has stopped (the store is closed by the caller after).
    static func serve(
        store: any StoreBackend, settings: Settings, environment: [String: String], listenFDs: ListenFDs, hangups: UnixSignalsSequence, stops: UnixSignalsSequence, logLevel: LogLevelControl,
        notifier: SystemdNotifier, logger: Logger
    ) async throws {
        let tokenKey: TokenKey
        do {
            tokenKey = try TokenKey.load(settings.tokenKey)
        } catch {
            throw StartupFailure(description: error.description)
        }
        let vault = TokenVault(key: tokenKey)
        let grants = store.connections(vault: vault)
        let keyCheck = try await grants.tokensNotOpening()
        if !keyCheck.failing.isEmpty, keyCheck.failing.count == keyCheck.checked {
            // Not one stored token opens: the key is wrong, not a row. Starting would drift every org to reconnect.
            throw StartupFailure(
                description: "the token key does not open the stored tokens of \(keyCheck.failing.count) of \(keyCheck.checked) orgs "
                    + "(\(keyCheck.failing.prefix(3).joined(separator: ", "))\(keyCheck.failing.count > 3 ? ", …" : "")): is \(SettingKey.tokenKeyFile) the key they were sealed with? "
                    + "Nothing was changed; start again with the right key (or `qbsyncd --rotate-token-key` from it)"
            )
        }
        for name in keyCheck.failing {
            // Some rows open and these do not: damaged rows. Those orgs must connect again; the rest run.
            guard let org = OrgID(name) else { continue }
            _ = try await grants.markNeedsReauthorization(
                org: org, error: "its stored tokens cannot be opened with the token key (a damaged row): connect again", now: Date()
            )
            var log = logger
            log[metadataKey: LogKey.org] = "\(org)"
            log.error("an organisation's stored tokens cannot be opened; it must connect again")
        }
        // Every grant belongs to one environment: another environment's host answers it 403, which
        // would send each of those orgs to reconnect (F15). A reload never switches it; a start refuses to.
        let quickBooksEnvironment = settings.quickBooks.environment.rawValue
        let otherEnvironment = try await grants.orgsConnected(toOtherEnvironmentThan: quickBooksEnvironment)
        if !otherEnvironment.isEmpty {
            throw StartupFailure(
                description: "\(SettingKey.environment) is \(quickBooksEnvironment), but \(otherEnvironment.count) connected orgs hold grants of the other environment "
                    + "(\(otherEnvironment.prefix(3).joined(separator: ", "))\(otherEnvironment.count > 3 ? ", …" : "")): their calls would be refused "
                    + "and every one would have to connect again. Nothing was changed; set \(SettingKey.environment) back, or disconnect those orgs first"
            )
        }
        let state = DaemonState(settings: settings, orgCounts: try await store.orgs.statusCounts())
        let hub = NotificationHub(logger: logger)
        let governor = try await ReadGovernor.load(repository: store.readQuota, state: state, hub: hub, logger: logger)
        let (scheduleChanges, scheduleContinuation) = AsyncStream.makeStream(of: ConnectionManager.ScheduleChange.self)
        let metrics = DaemonMetrics()
        let settingsInForce: CurrentSettings = { state.settings }
        let mappings = store.mappings
        let connections = ConnectionManager(
            repository: grants, orgs: store.orgs, items: mappings, state: state, hub: hub, http: HTTPClient.shared, governor: governor,
            scheduleChanges: scheduleContinuation, metrics: metrics, logger: logger
        )
        // Alone on its store an instance does every company's work; among several (PostgreSQL), the
        // companies whose lease it holds (LeaseKeeper, below).
        let leaseRules = LeaseRules(duration: TimeInterval(settings.leaseSeconds))
        let leaseTable = store.leaseTable(rules: leaseRules)
        let leases: CompanyLeases = leaseTable == nil ? .sole() : .shared()
        let (scheduleLoaded, scheduleLoadedContinuation) = AsyncStream.makeStream(of: Void.self)
        let scheduler = TokenScheduler(
            refresher: connections.refresher, repository: grants, hub: hub, settings: settingsInForce, changes: scheduleChanges, loaded: scheduleLoadedContinuation,
            leases: leases, logger: logger
        )
        let sync = SyncService(access: connections.access, mappings: mappings, hub: hub, settings: settingsInForce, logger: logger)
        let feeds = store.feedStates
        let worker = FeedWorker(
            webhooks: store.webhooks, feeds: feeds, sync: sync, mappings: mappings, grants: grants, hub: hub, settings: settingsInForce, leases: leases, logger: logger
        )
        let pipeline = FeedPipeline(worker: worker, state: state)
        // Pushes arriving at an instance that does not hold their company go to the one that does.
        let calls = CompanyCalls(
            leases: leases, store: leaseTable == nil ? nil : store.forwardedCalls(vault: vault), rules: leaseRules, logger: logger,
            realmOf: { org in try await grants.realm(of: org) },
            announce: { message in
                guard let payload = message.payload else { return }
                do { try await store.announce(payload) } catch {
                    // The other side polls: a lost wake-up costs a second, or a heartbeat.
                    logger.debug("a forwarded call could not be announced", metadata: [LogKey.error: "\(error)"])
                }
            }
        )
        let keeper = leaseTable.map { table in
            LeaseKeeper(
                table: table, leases: leases, rules: leaseRules, logger: logger,
                onBeat: { held in
                    // try?: a beat that cannot read the log looks again at the next one
                    let pending = (try? await store.webhooks.pendingRealms()) ?? []
                    pipeline.eventsArrived(realmIDs: pending.map(\.realmID).filter(held.contains))
                    calls.wake()  // forwarded calls whose announcement was lost, or that waited for a holder
                }
            ) { taken, takenOver in
                // A company newly held: its pending events are due now. One taken over from another
                // instance has its grant refreshed here; a company leased for the first time (just
                // connected) has fresh tokens already.
                pipeline.eventsArrived(realmIDs: taken, at: .distantPast)
                calls.wake()
                if !takenOver.isEmpty { Task { await scheduler.tookOver(realms: takenOver) } }
            }
        }
        if leaseTable != nil {
            logger.info("one of several instances on the store: company work goes by lease", metadata: [LogKey.instances: "\(leases.instance)"])
        }
        // Among several instances: events stored here wake their holder elsewhere, and notifications
        // published here reach every instance's subscribers (LISTEN/NOTIFY, a wake-up only).
        let bridge = leaseTable.map { _ in
            InstanceBridge(store: store, instance: leases.instance, hub: hub, calls: calls, logger: logger) { realms in
                let held = leases.current
                pipeline.eventsArrived(realmIDs: realms.filter { held[$0] != nil })
            }
        }
        let intake = WebhookIntake(
            repository: store.webhooks,
            logger: logger, duplicate: { metrics.webhookDuplicates.increment(); state.webhookDuplicate() },
            unparsed: { metrics.webhookEventsUnparsed.increment(by: Int64($0)); state.webhookEventsUnparsed(add: $0) }
        ) { deliveries in
            let realms = Set(deliveries.flatMap { $0.events.map(\.realmID) })
            pipeline.eventsArrived(realmIDs: realms)
            bridge?.eventsStored(realms: realms)
            // Events that could not be parsed were stored failed: the count shows them at once.
            if deliveries.contains(where: { !$0.unparsed.isEmpty }) { Task { await pipeline.updateCounts() } }
        }
        let dispatcher = RPCDispatcher(
            methods: MethodTable.build(state: state, hub: hub, store: store, connections: connections, sync: sync, pipeline: pipeline, calls: calls), state: state, metrics: metrics
        )
        // A second daemon beside a live one is refused before it takes any port.
        if listenFDs.byName["control"] == nil, ControlSocketFile.isAnswering(settings.controlSocketPath) {
            throw StartupFailure(description: "another qbsyncd is already listening on \(settings.controlSocketPath); refusing to start")
        }
        // The webhook listener first: the control socket answers `daemon.status` from the moment it is
        // bound, and the status names the listener's real address.
        let webhookServer: WebhookServer
        do {
            webhookServer = try await WebhookServer.bind(
                settings: settings, inheritedFD: listenFDs.byName["webhook"], intake: intake, state: state, health: store.health, metrics: metrics,
                scrape: { await Self.scrape(metrics: metrics, state: state, store: store, limiter: connections.access.limiter, governor: governor) }, logger: logger
            )
        } catch {
            throw StartupFailure(description: "cannot bind the webhook listener \(settings.webhookListen): \(error)")
        }
        state.webhookListen = webhookServer.boundAddress

        let control: ControlServer
        do {
            if let fd = listenFDs.byName["control"] {
                control = try await ControlServer.adopt(fd: fd, dispatcher: dispatcher, state: state, hub: hub, group: MultiThreadedEventLoopGroup.singleton, logger: logger)
            } else {
                control = try await ControlServer.bind(
                    path: settings.controlSocketPath, settings: settings, dispatcher: dispatcher, state: state, hub: hub,
                    group: MultiThreadedEventLoopGroup.singleton, logger: logger
                )
            }
        } catch let error as ControlSocketFile.Failure {
            throw StartupFailure(description: error.description)
        }
        await pipeline.updateCounts()

        let reloader = SettingsReloader(hangups: hangups, environment: environment, state: state, logLevel: logLevel, notifier: notifier, logger: logger)
        let systemd = SystemdService(notifier: notifier, state: state, store: store, scheduleLoaded: scheduleLoaded, logger: logger)
        var overdue = OverdueService(mappings: mappings, sync: sync, logger: logger)
        overdue.asLeader = { pass in
            do {
                return try await store.asLeader("overdue") { await pass() }
            } catch {
                logger.warning("the Overdue pass could not take the leader lock; it runs again next hour", metadata: [LogKey.error: "\(error)"])
                return nil
            }
        }
        // The lease keeper first: it stops last, giving its companies back once their work has stopped.
        let instanceServices: [ServiceGroupConfiguration.ServiceConfiguration] =
            (keeper.map { [.init(service: $0), .init(service: calls)] } ?? []) + (bridge.map { [.init(service: $0)] } ?? [])
        var configuration = ServiceGroupConfiguration(
            services: instanceServices + [
                .init(service: scheduler),
                .init(service: overdue),
                .init(service: pipeline),
                .init(service: SweepService(pipeline: pipeline, feeds: feeds, governor: governor, state: state, hub: hub, logger: logger)),
                .init(service: control),
                // The intake before the listener: stopping in reverse order, the listener quiesces
                // (answering deliveries in flight) while the intake still commits.
                .init(service: intake),
                .init(service: webhookServer),
                .init(service: reloader),
                .init(service: systemd),
            ],
            // Not the group's own signals: those are trapped only once it runs (see `stops`).
            gracefulShutdownSignals: [],
            logger: logger
        )
        // Below systemd's default TimeoutStopSec (90 s): a stuck shutdown becomes a cancellation.
        configuration.maximumGracefulShutdownDuration = .seconds(30)
        let group = ServiceGroup(configuration: configuration)
        // The first beat before any company work starts: the scheduler and the pipeline find what this instance holds.
        await keeper?.beatLogged(now: Date())
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            // Every stop asked for since the start, the first one before the group ran included.
            tasks.addTask {
                for await _ in stops { await group.triggerGracefulShutdown() }
            }
            try await group.run()
            tasks.cancelAll()
        }
    }

    /// Gauges read at scrape time: orgs, events, limiter waits, this month's metered reads.
    static func scrape(metrics: DaemonMetrics, state: DaemonState, store: any StoreBackend, limiter: RealmLimiter, governor: ReadGovernor) async {
        let orgs = state.orgCounts
        let orgGauge = DaemonMetrics.name("orgs", unit: "", help: "Organisations by connection status")
        metrics.setGauge(orgGauge, labels: [("status", "connected")], value: Double(orgs.connected))
        metrics.setGauge(orgGauge, labels: [("status", "needs_reauthorization")], value: Double(orgs.needsReauthorization))
        metrics.setGauge(orgGauge, labels: [("status", "disconnected")], value: Double(orgs.total - orgs.connected - orgs.needsReauthorization))
        let events = state.eventCounts
        let eventGauge = DaemonMetrics.name("webhook_events", unit: "", help: "Webhook events by processing status")
        metrics.setGauge(eventGauge, labels: [("status", "pending")], value: Double(events.pending))
        metrics.setGauge(eventGauge, labels: [("status", "failed")], value: Double(events.failed))
        let reconciled = state.reconciled
        let loss = DaemonMetrics.name("reconciled_changes", unit: "", help: "Invoice changes found in the CDC feed, and those no webhook reported")
        metrics.setGauge(loss, labels: [("reported", "all")], value: Double(reconciled.changes))
        metrics.setGauge(loss, labels: [("reported", "missed_by_webhook")], value: Double(reconciled.missed))
        metrics.setGauge(DaemonMetrics.name("limiter_waits", unit: "", help: "QuickBooks calls that waited for the per-company budget"), value: Double(limiter.waits))
        let quota = governor.status()
        let reads = DaemonMetrics.name("qbo_metered_reads", unit: "", help: "Metered QuickBooks read calls this month, per company")
        for (realm, _, count) in (try? await store.readQuota.byRealm(month: quota.month, limit: 100_000)) ?? [] {  // try?: a scrape shows what it can
            metrics.setGauge(reads, labels: [("realm", realm), ("month", quota.month)], value: Double(count))
        }
        let budget = DaemonMetrics.name("read_quota", unit: "", help: "The app-wide monthly budget of metered reads: used (by class), budget, reserve, forecast")
        metrics.setGauge(budget, labels: [("kind", "budget")], value: Double(quota.budget))
        metrics.setGauge(budget, labels: [("kind", "reserve")], value: Double(quota.reserve))
        metrics.setGauge(budget, labels: [("kind", "forecast")], value: Double(quota.forecast))
        metrics.setGauge(budget, labels: [("kind", "used")], value: Double(quota.used))
        metrics.setGauge(budget, labels: [("kind", "used_sweep")], value: Double(quota.byClass.sweep))
        metrics.setGauge(budget, labels: [("kind", "used_event")], value: Double(quota.byClass.event))
        metrics.setGauge(budget, labels: [("kind", "used_operator")], value: Double(quota.byClass.operator))
        let stateGauge = DaemonMetrics.name("read_quota_state", unit: "", help: "1 for the read budget's current state (ok, warning, critical, exhausted)")
        for name in [QuotaState.ok, .warning, .critical, .exhausted] {
            metrics.setGauge(stateGauge, labels: [("state", name.rawValue)], value: quota.state == name.rawValue ? 1 : 0)
        }
        metrics.setGauge(DaemonMetrics.name("sweep_period_seconds", unit: "", help: "The sweep period in force after fitting the read budget (0: sweeps shed)"), value: Double(quota.sweepPeriodSeconds ?? 0))
    }
}
