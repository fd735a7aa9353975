import Foundation
import Logging
import NIOCore
import NIOPosix
import QBSyncStore
import ServiceLifecycle
import SystemdSupport

/// The daemon's side of `Type=notify`: READY once everything listens and the schedule is loaded,
/// a one-line STATUS kept current, STOPPING on shutdown, and WATCHDOG=1 at half of
/// `WATCHDOG_USEC`, sent only while an event loop and the store both answer (a hung daemon is
/// restarted by systemd, not kept alive by a bare timer).
struct SystemdService: Service, CustomStringConvertible {
    var description: String { "SystemdService" }
    let notifier: SystemdNotifier
    let state: DaemonState
    let store: Store
    /// Finishes when the token schedule is loaded (the last thing READY waits for).
    let scheduleLoaded: AsyncStream<Void>
    let logger: Logger

    func run() async throws {
        var loaded = scheduleLoaded.makeAsyncIterator()
        _ = await loaded.next()
        notifier.ready(status: Self.status(state))
        logger.info("ready", metadata: ["systemd": "\(notifier.isActive)"])
        let watchdog = notifier.watchdogInterval
        let tick: Duration = watchdog.map { min($0, .seconds(5)) } ?? .seconds(5)
        var lastStatus = ""
        var lastPing = ContinuousClock.now - (watchdog ?? .zero)
        await withGracefulShutdownHandler {
            while !Task.isShuttingDownGracefully {
                let status = Self.status(state)
                if status != lastStatus {
                    notifier.status(status)
                    lastStatus = status
                }
                if let watchdog, ContinuousClock.now - lastPing >= watchdog {
                    if await healthy(within: watchdog / 2) {
                        notifier.watchdog()
                        lastPing = .now
                    } else {
                        logger.error("watchdog keep-alive withheld: an event loop or the store did not answer in time")
                    }
                }
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: tick) }
            }
        } onGracefulShutdown: {
            notifier.stopping()
        }
    }

    /// `3 orgs connected, 1 needs reauthorization, 0 events pending`.
    static func status(_ state: DaemonState) -> String {
        let orgs = state.orgCounts
        let events = state.eventCounts
        return "\(orgs.connected) orgs connected, \(orgs.needsReauthorization) need reauthorization, \(events.pending) events pending, \(events.failed) failed"
    }

    /// Every event loop runs a task, and the store commits a write, within the limit.
    func healthy(within limit: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() {
                    guard (try? await loop.submit { true }.get()) == true else { return false }
                }
                return await store.isWritable()
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}
