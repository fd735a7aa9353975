import Foundation
import Logging
import NIOCore
import NIOPosix
import QBSyncCore
import QBSyncStore
import ServiceLifecycle
import Synchronization
import SystemdSupport

/// The daemon's side of `Type=notify`: READY once everything listens and the schedule is loaded,
/// a one-line STATUS kept current, STOPPING on shutdown, and WATCHDOG=1 at half of
/// `WATCHDOG_USEC`, sent only while every event loop runs a task and the store answers a read (a
/// hung daemon is restarted by systemd, not kept alive by a bare timer).
///
/// Writability is not liveness (L14): a full disk is not cured by a restart, so it never withholds
/// the keep-alive. A write probe every ``probeInterval`` keeps ``StoreHealth`` current, which
/// `/healthz` and `STATUS=` report. After READY, a large store's whole-file integrity check runs
/// here, off the start-up path (F10).
struct SystemdService: Service, CustomStringConvertible {
    var description: String { "SystemdService" }
    let notifier: SystemdNotifier
    let state: DaemonState
    let store: any StoreBackend
    /// Finishes when the token schedule is loaded (the last thing READY waits for).
    let scheduleLoaded: AsyncStream<Void>
    let logger: Logger
    static let probeInterval: Duration = .seconds(5)

    func run() async throws {
        var loaded = scheduleLoaded.makeAsyncIterator()
        _ = await loaded.next()
        notifier.ready(status: Self.status(state))
        logger.info("ready", metadata: [LogKey.systemd: "\(notifier.isActive)"])
        let integrity = Task {
            await store.checkIntegrity()
            if case .damaged(let detail) = store.health.snapshot.integrity {
                logger.critical("the store's integrity check found damage: back up the state directory and restore or salvage it", metadata: [LogKey.detail: "\(detail)"])
            }
        }
        defer { integrity.cancel() }
        let watchdog = notifier.watchdogInterval
        let tick: Duration = watchdog.map { min($0, Self.probeInterval) } ?? Self.probeInterval
        var lastStatus = ""
        var lastPing = ContinuousClock.now - (watchdog ?? .zero)
        var lastProbe = ContinuousClock.now - Self.probeInterval
        var wasWritable = true
        let probe = WriteProbe()
        await withGracefulShutdownHandler {
            while !Task.isShuttingDownGracefully {
                if ContinuousClock.now - lastProbe >= Self.probeInterval {
                    lastProbe = .now
                    probe.start(store: store, timeout: Self.probeInterval)
                }
                let writable = store.health.snapshot.writable
                if writable != wasWritable {
                    if writable {
                        logger.notice("the store is writable again")
                    } else {
                        logger.error("the store cannot write; deliveries are answered 503 until it can", metadata: [LogKey.error: "\(store.health.snapshot.reason ?? "?")"])
                    }
                    wasWritable = writable
                }
                let status = Self.status(state, store: store.health.snapshot)
                if status != lastStatus {
                    notifier.status(status)
                    lastStatus = status
                }
                if let watchdog, ContinuousClock.now - lastPing >= watchdog {
                    if await healthy(within: watchdog / 2) {
                        notifier.watchdog()
                        lastPing = .now
                    } else {
                        logger.error("watchdog keep-alive withheld: an event loop or a store read did not answer in time")
                    }
                }
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: tick) }  // try?: a shutdown ends the wait
            }
        } onGracefulShutdown: {
            notifier.stopping()
        }
    }

    /// `3 orgs connected, 1 needs reauthorization, 0 events pending, 0 failed`, then the store's
    /// problem when it has one (`; store not writable: SQLite error 13: …`).
    static func status(_ state: DaemonState, store: StoreHealth.Snapshot? = nil) -> String {
        let orgs = state.orgCounts
        let events = state.eventCounts
        let line = "\(orgs.connected) orgs connected, \(orgs.needsReauthorization) need reauthorization, \(events.pending) events pending, \(events.failed) failed"
        return store?.problem.map { line + "; " + $0 } ?? line
    }

    /// Every event loop runs a task, and the store answers a read, within the limit.
    func healthy(within limit: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() {
                    guard (try? await loop.submit { true }.get()) == true else { return false }  // try?: a loop that fails is unhealthy
                }
                return await store.isReadable()
            }
            group.addTask {
                try? await Task.sleep(for: limit)  // try?: cancelled once the check answers
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}

/// The periodic write probe: one at a time, its result kept in the store's health (so readers of
/// it never wait in the writer queue); one stuck longer than its timeout counts as a failure.
final class WriteProbe: Sendable {
    private let inFlightSince = Mutex<ContinuousClock.Instant?>(nil)

    func start(store: any StoreBackend, timeout: Duration) {
        let now = ContinuousClock.now
        let started: ContinuousClock.Instant? = inFlightSince.withLock { since in
            if since == nil { since = now }
            return since == now ? nil : since
        }
        if let started {
            if now - started >= timeout { store.health.writeFailed(Timeout(limit: timeout)) }
            return
        }
        Task {
            await store.isWritable()
            inFlightSince.withLock { $0 = nil }
        }
    }

    struct Timeout: Error, CustomStringConvertible {
        var limit: Duration
        var description: String { "a test write did not commit within \(limit)" }
    }
}
