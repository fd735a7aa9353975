import Foundation
import Logging
import QBSyncCore
import QBSyncStore
import ServiceLifecycle
import Synchronization

/// The per-company event pipeline: carries out ``FeedQueue``'s decisions. A company's events are
/// settled in order by one ``FeedWorker`` turn at a time; companies run concurrently up to
/// `QBSYNCD_PIPELINE_CONCURRENCY`, so a company whose API is slow or failing holds only its own
/// slot. Webhook intake and the sweep service feed it; a timer wakes it when a window or a retry ends.
final class FeedPipeline: Service, Sendable, CustomStringConvertible {
    var description: String { "FeedPipeline" }
    let worker: FeedWorker
    let state: DaemonState
    private let queue: Mutex<FeedQueue>
    private let wakeups: AsyncStream<Void>
    private let wakeup: AsyncStream<Void>.Continuation

    init(worker: FeedWorker, state: DaemonState) {
        self.worker = worker
        self.state = state
        let settings = state.settings
        queue = Mutex(FeedQueue(window: settings.coalesceWindowSeconds, concurrency: settings.pipelineConcurrency))
        (wakeups, wakeup) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Events of these companies were just stored.
    func eventsArrived(realmIDs: some Sequence<String>, at date: Date = Date()) {
        queue.withLock { queue in
            for realmID in realmIDs { queue.eventsArrived(realmID: realmID, at: date) }
        }
        wakeup.yield()
    }

    /// Asks for a sweep of a company; false when it already has work (that read covers it).
    @discardableResult
    func sweep(realmID: String) -> Bool {
        let queued = queue.withLock { queue -> Bool in
            guard !queue.isBusy(realmID) else { return false }
            queue.sweepDue(realmID: realmID)
            return true
        }
        if queued { wakeup.yield() }
        return queued
    }

    /// Serves a company's due events now, without waiting for the window (`event.retry`).
    func expedite(realmID: String) {
        eventsArrived(realmIDs: [realmID], at: .distantPast)
    }

    var status: (active: Int, waiting: Int) { queue.withLock { ($0.active, $0.waiting) } }

    func run() async throws {
        for (realmID, since) in try await worker.webhooks.pendingRealms() {
            queue.withLock { $0.eventsArrived(realmID: realmID, at: since) }
        }
        await withDiscardingTaskGroup { group in
            var timer: Task<Void, Never>?
            wakeup.yield()
            for await _ in wakeups.cancelOnGracefulShutdown() {
                let settings = state.settings
                let work = queue.withLock { queue -> [FeedQueue.Work] in
                    queue.window = settings.coalesceWindowSeconds
                    queue.concurrency = settings.pipelineConcurrency
                    return queue.take(now: Date())
                }
                for item in work {
                    group.addTask {
                        let next = await self.worker.run(realmID: item.realmID, readClass: item.readClass)
                        self.queue.withLock { $0.finished(realmID: item.realmID, nextAt: next) }
                        await self.updateCounts()
                        self.wakeup.yield()
                    }
                }
                timer?.cancel()
                if let next = queue.withLock({ $0.nextWake() }) {
                    let delay = max(0.001, next.timeIntervalSinceNow)
                    timer = Task {
                        try? await Task.sleep(for: .milliseconds(Int64(min(delay, 3600) * 1000)))  // try?: cancelled by the next wake-up
                        if !Task.isCancelled { self.wakeup.yield() }
                    }
                }
            }
            timer?.cancel()
        }
    }

    /// Pending and failed counts for `daemon.status` (after each turn, at start and on `event.retry`).
    func updateCounts() async {
        do {
            let counts = try await worker.webhooks.counts()
            let oldest = try await worker.webhooks.oldestPending()
            state.updateEventCounts(pending: counts.pending, failed: counts.failed)
            state.oldestPendingEvent = oldest
        } catch {
            worker.logger.warning("could not count webhook events", metadata: [LogKey.error: "\(error)"])
        }
    }
}
