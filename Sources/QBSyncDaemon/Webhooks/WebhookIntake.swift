import Foundation
import Logging
import NIOCore
import QBSyncCore
import QBSyncStore
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The durable intake (issue 17), a Service of two loops.
///
/// **Commit.** The listener submits each verified delivery, raw, from its event loop; the loop takes
/// every delivery that queued up while the previous commit ran and commits them in one transaction
/// of multi-row INSERTs (one fsync for the batch), then completes each delivery's callback, which
/// answers 200 from the connection's event loop. No JSON is parsed before the commit. An exact
/// replay of a stored delivery is recognised in the same transaction and acknowledged without being
/// stored (F10). If a batch fails, its members are committed again one by one, so one bad delivery
/// does not cost the others a 503 (L10).
///
/// **Extraction.** After the commits, the events of the committed deliveries are parsed and stored
/// (``WebhookRepository/expand(_:)``); the pipeline is told of them then. Its parsing yields the
/// CPU to the listener (``IdlePriorityWorker``). A crash between the two loses nothing: the deliveries
/// stay listed until extracted, and ``expandListed()`` runs at start.
///
/// On graceful shutdown (after the listener has quiesced, so nothing new arrives) everything queued
/// is committed before ``run()`` returns; what is not yet extracted is, at the next start.
final class WebhookIntake: Service, Sendable {
    typealias Completion = @Sendable (Result<WebhookRepository.AppendOutcome, any Error>) -> Void

    /// A delivery submitted after the intake stopped: not stored, so not acknowledged.
    struct Stopped: Error, CustomStringConvertible {
        var description: String { "the webhook intake has stopped" }
    }

    struct State {
        var waiting: [Pending] = []
        var committing = false
        /// The commit thread waits on ``WebhookIntake/commitSignal`` for work.
        var committerAsleep = false
        var expansionDue = true
        var expansionWakeup: CheckedContinuation<Void, Never>?
        var stopping = false
        /// The commit loop has ended: submissions are refused.
        var stopped = false
    }

    /// Deliveries read and parsed per extraction batch.
    static let expansionBatch = 64
    /// Deliveries written per extraction transaction while the intake runs. Each transaction holds
    /// the one SQLite writer, and a commit that comes due meanwhile waits for it: 64 held it 5.5 ms
    /// (median; 10–30 ms at p99), 8 about a millisecond. At 2,000 deliveries/s on a fresh store the
    /// intake's p99 went from 13–15 ms to 6–8 ms, with the same throughput (the cost is per
    /// delivery, not per transaction); BENCHMARKS.md has the figures.
    static let expansionWriteChunk = 8
    /// How soon a failed extraction (the store could not write) is tried again.
    static let extractionRetry: Duration = .seconds(1)

    let repository: any WebhookLog
    /// The commit thread's append (``blockingAppend(_:)``).
    private let appendNow: @Sendable ([RawDelivery]) throws -> [WebhookRepository.AppendOutcome]
    let logger: Logger
    let state = Mutex(State())
    /// Wakes the commit thread (signalled only when it said it was going to sleep).
    private let commitSignal = DispatchSemaphore(value: 0)
    /// Told of each replay acknowledged without being stored (or whose events were not stored again).
    let duplicate: @Sendable () -> Void
    /// Told how many events of an extraction could not be parsed (stored as failed events).
    let unparsed: @Sendable (Int) -> Void
    /// Told after each extraction, with what it stored (the pipeline wakes for their companies).
    let committed: @Sendable ([WebhookPayload.Parsed]) -> Void

    init(
        repository: any WebhookLog, logger: Logger, duplicate: @escaping @Sendable () -> Void = {}, unparsed: @escaping @Sendable (Int) -> Void = { _ in },
        committed: @escaping @Sendable ([WebhookPayload.Parsed]) -> Void
    ) {
        self.repository = repository
        self.appendNow = Self.blockingAppend(repository)
        self.logger = logger
        self.duplicate = duplicate
        self.unparsed = unparsed
        self.committed = committed
    }

    /// Deliveries waiting for the next commit, and whether a commit is under way (for tests).
    var queue: (waiting: Int, committing: Bool) { state.withLock { ($0.waiting.count, $0.committing) } }

    /// A delivery waiting for its commit, with whom to tell and where.
    struct Pending {
        var delivery: RawDelivery
        var eventLoop: (any EventLoop)?
        var completion: Completion
    }

    /// Queues a delivery for the next commit; `completion` is called once it is committed (or not),
    /// on `eventLoop` when one is given (one hop to each loop per commit, not one per delivery).
    func submit(_ delivery: RawDelivery, on eventLoop: (any EventLoop)? = nil, completion: @escaping Completion) {
        let (accepted, wakeup) = state.withLock { state -> (Bool, Bool) in
            guard !state.stopped else { return (false, false) }
            state.waiting.append(Pending(delivery: delivery, eventLoop: eventLoop, completion: completion))
            defer { state.committerAsleep = false }
            return (true, state.committerAsleep)
        }
        guard accepted else { return completion(.failure(Stopped())) }
        if wakeup { commitSignal.signal() }
    }

    /// ``submit(_:completion:)`` for callers in a task.
    @discardableResult
    func append(_ delivery: RawDelivery) async throws -> WebhookRepository.AppendOutcome {
        try await withCheckedThrowingContinuation { continuation in submit(delivery) { continuation.resume(with: $0) } }
    }

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.expansionLoop() }
            await withTaskCancellationHandler {
                await withGracefulShutdownHandler {
                    // A thread of its own: the commit is a blocking call there (GRDB runs it on the
                    // calling thread), so a cycle costs no task or queue hop, only the fsync.
                    await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
                        let thread = Thread {
                            #if canImport(Glibc)
                            // The intake's heartbeat: the priority libdispatch gives the writer queue it
                            // replaces (nice -2). Without the right to raise it, it stays at 0.
                            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, -2)
                            #endif
                            self.commitLoop()
                            finished.resume()
                        }
                        thread.name = "qbsyncd-commit"
                        thread.start()
                    }
                } onGracefulShutdown: {
                    self.beginStopping()
                }
            } onCancel: {
                self.beginStopping()
            }
            // Everything queued is committed: the extraction loop ends (after its batch under way).
            let wakeup = state.withLock { state in
                state.expansionDue = true
                defer { state.expansionWakeup = nil }
                return state.expansionWakeup
            }
            wakeup?.resume()
        }
    }

    private func beginStopping() {
        let wakeup = state.withLock { state in
            state.stopping = true
            defer { state.committerAsleep = false }
            return state.committerAsleep
        }
        if wakeup { commitSignal.signal() }
    }

    // MARK: Commit

    private func commitLoop() {
        while let batch = nextBatch() {
            commit(batch)
        }
    }

    /// Everything queued, once there is something; nil once stopping with nothing left.
    private func nextBatch() -> [Pending]? {
        while true {
            let batch = state.withLock { state -> [Pending]?? in
                if !state.waiting.isEmpty {
                    state.committing = true
                    defer { state.waiting.removeAll(keepingCapacity: true) }
                    return .some(state.waiting)
                }
                state.committing = false
                if state.stopping {
                    state.stopped = true
                    return .some(nil)
                }
                state.committerAsleep = true
                return nil
            }
            if let batch { return batch }
            commitSignal.wait()
        }
    }

    private func commit(_ batch: [Pending]) {
        do {
            let outcomes = try appendNow(batch.map(\.delivery))
            extractionDue()  // before the answers go out: the events follow the 200 by a millisecond or so
            finish(batch, with: outcomes.map { .success($0) })
        } catch where batch.count > 1 {
            // Each alone: only the deliveries that fail by themselves are refused.
            var results: [Result<WebhookRepository.AppendOutcome, any Error>] = []
            for pending in batch {
                do {
                    results.append(.success(try appendNow([pending.delivery])[0]))
                } catch {
                    results.append(.failure(error))
                }
            }
            extractionDue()
            finish(batch, with: results)
        } catch {
            finish(batch, with: [.failure(error)])
        }
    }

    /// How the commit thread appends a batch: SQLite's blocking call, run on the thread itself (no
    /// hop), or any other log's async append, awaited there (the thread is the intake's own, not one
    /// of the concurrency pool's, so blocking it starves nothing) for at most ``appendLimit``.
    ///
    /// A remote store that cannot answer (a database restarting) must not hold the answers: past the
    /// limit the batch is refused (503, Intuit delivers again) while its append goes on in the
    /// background until it commits or fails (the store's own operation deadline ends it at worst;
    /// a redelivery of one that commits late is recognised as a replay by its body's digest). While
    /// such an append is unfinished, a later batch is tried for at most ``retryLimit`` (the store
    /// may be back: then it commits at once), and at most ``unfinishedLimit`` appends are left
    /// unfinished at a time: past that, batches are refused at once, so an outage holds a few
    /// batches in memory, not one per batch, and a single append that never ends blocks nothing.
    static func blockingAppend(_ log: any WebhookLog) -> @Sendable ([RawDelivery]) throws -> [WebhookRepository.AppendOutcome] {
        if let sqlite = log as? WebhookRepository {
            return { try sqlite.appendRawNow($0) }
        }
        let unfinished = UnfinishedAppend()
        return { batch in
            guard let earlier = unfinished.begin() else { throw StoreNotAnswering(limit: appendLimit) }
            let limit = earlier == 0 ? appendLimit : retryLimit
            let done = DispatchSemaphore(value: 0)
            let result = Mutex<Result<[WebhookRepository.AppendOutcome], any Error>?>(nil)
            Task {
                let outcome: Result<[WebhookRepository.AppendOutcome], any Error>
                do { outcome = .success(try await log.appendRaw(batch)) } catch { outcome = .failure(error) }
                result.withLock { $0 = outcome }
                unfinished.end()
                done.signal()
            }
            guard done.wait(timeout: .now() + .milliseconds(Int(limit.wholeMilliseconds))) == .success else {
                throw StoreNotAnswering(limit: limit)
            }
            return try result.withLock { $0! }.get()
        }
    }

    /// The longest a delivery waits for a remote store's commit before it is answered 503.
    static let appendLimit: Duration = .seconds(5)
    /// The same while an earlier append is still unfinished (the store was not answering).
    static let retryLimit: Duration = .seconds(1)
    /// Appends left unfinished (answered 503, still running) at most at a time.
    static let unfinishedLimit = 4

    /// How many remote appends are still unanswered.
    final class UnfinishedAppend: Sendable {
        let count = Mutex(0)

        /// The number of appends unfinished before this one, nil (refused) when at the limit.
        func begin() -> Int? {
            count.withLock { count in
                guard count < WebhookIntake.unfinishedLimit else { return nil }
                defer { count += 1 }
                return count
            }
        }

        func end() { count.withLock { $0 -= 1 } }
    }

    /// The store did not commit within the limit (or an earlier commit is still unanswered).
    struct StoreNotAnswering: Error, CustomStringConvertible {
        var limit: Duration
        var description: String { "the store did not commit within \(limit)" }
    }

    private func extractionDue() {
        let wakeup = state.withLock { state in
            state.expansionDue = true
            defer { state.expansionWakeup = nil }
            return state.expansionWakeup
        }
        wakeup?.resume()
    }

    private func finish(_ batch: [Pending], with results: [Result<WebhookRepository.AppendOutcome, any Error>]) {
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, calls: [(Completion, Result<WebhookRepository.AppendOutcome, any Error>)])] = [:]
        for (pending, result) in zip(batch, results) {
            if case .success(.duplicate) = result { duplicate() }
            guard let loop = pending.eventLoop else {
                pending.completion(result)
                continue
            }
            byLoop[ObjectIdentifier(loop), default: (loop, [])].calls.append((pending.completion, result))
        }
        for (loop, calls) in byLoop.values {
            loop.execute { for (completion, result) in calls { completion(result) } }
        }
    }
}
